"""The People page: data managers only; every action changes what it says and is audited."""
from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinics.models import Membership
from core.models import PeopleChangeLog
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def dm_client(client, data_manager):
    client.force_login(data_manager)
    return client


@pytest.mark.parametrize("who", ["nurse_a", "researcher", "statistician"])
def test_only_data_managers_reach_the_people_pages(client, request, who, nurse_b):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("clinics:people")).status_code == 403
    assert client.post(reverse("clinics:person_active", args=[nurse_b.pk]),
                       {"active": "0"}).status_code == 403
    nurse_b.refresh_from_db()
    assert nurse_b.is_active


def test_anonymous_is_sent_to_sign_in(client):
    assert client.get(reverse("clinics:people"))["Location"].startswith("/accounts/login/")


def test_study_wide_roles_read_all_clinics(dm_client, researcher, nurse_a):
    text = dm_client.get(reverse("clinics:people")).text
    assert "Researcher (all clinics)" in text and "Nurse at A – Clinic A" in text
    assert "researcher – Researcher (all clinics)" == str(researcher.memberships.get())


def test_invite_shows_a_one_time_link_that_sets_the_password(dm_client, client, settings):
    settings.PASSWORD_RESET_OFFERED = False
    page = dm_client.post(reverse("clinics:people_invite"),
                          {"username": "newnurse", "email": "n@example.org"})
    assert page.status_code == 200
    link = page.context["link"]
    user = User.objects.get(username="newnurse")
    assert not user.has_usable_password()
    dm_client.logout()
    form = client.get(link, follow=True)
    assert form.context["validlink"]
    new = "a-fresh-long-password-42"
    client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    user.refresh_from_db()
    assert user.check_password(new)
    assert not client.get(link, follow=True).context["validlink"]  # used once
    assert PeopleChangeLog.objects.filter(username="newnurse", action="invited").exists()


def test_invite_refuses_a_taken_user_name(dm_client, nurse_a):
    page = dm_client.post(reverse("clinics:people_invite"), {"username": "NURSE_A"})
    assert "already exists" in page.text
    assert User.objects.filter(username__iexact="nurse_a").count() == 1


def test_give_a_nurse_role_needs_a_clinic_and_study_wide_does_not(dm_client, nurse_b,
                                                                  clinic_a):
    url = reverse("clinics:person_role_give", args=[nurse_b.pk])
    refused = dm_client.post(url, {"role": "nurse"})
    assert refused.status_code == 400 and "Choose the clinic" in refused.text
    dm_client.post(url, {"role": "researcher"})  # carried by A, the one free clinic
    roles = set(Membership.objects.filter(user=nurse_b).values_list("role", "clinic__code"))
    assert roles == {("nurse", "B"), ("researcher", "A")}
    # Known limit (one membership per user and clinic): no clinic left for a nurse role.
    assert dm_client.post(url, {"role": "nurse", "clinic": clinic_a.pk}).status_code == 400
    assert PeopleChangeLog.objects.filter(username="nurse_b", action="role given").count() == 1


def test_remove_a_role(dm_client, nurse_b):
    membership = nurse_b.memberships.get()
    dm_client.post(reverse("clinics:person_role_remove", args=[nurse_b.pk, membership.pk]))
    assert not nurse_b.memberships.exists()
    assert PeopleChangeLog.objects.get(action="role removed").detail == "Nurse at B – Clinic B"


def test_deactivate_and_reactivate(dm_client, client, nurse_b, data_manager):
    url = reverse("clinics:person_active", args=[nurse_b.pk])
    dm_client.post(url, {"active": "0"})
    nurse_b.refresh_from_db()
    assert not nurse_b.is_active
    dm_client.post(url, {"active": "1"})
    nurse_b.refresh_from_db()
    assert nurse_b.is_active
    dm_client.post(reverse("clinics:person_active", args=[data_manager.pk]), {"active": "0"})
    data_manager.refresh_from_db()
    assert data_manager.is_active  # not oneself
    assert list(PeopleChangeLog.objects.filter(username="nurse_b")
                .values_list("action", flat=True)) == ["reactivated", "deactivated"]


def test_reset_the_second_factor(dm_client, nurse_b):
    TOTPDevice.objects.create(user=nurse_b, name="phone", confirmed=True)
    dm_client.post(reverse("clinics:person_two_factor_reset", args=[nurse_b.pk]))
    assert not TOTPDevice.objects.filter(user=nurse_b).exists()
    assert PeopleChangeLog.objects.filter(action="second factor reset").exists()


def test_see_and_clear_a_sign_in_lock(dm_client, client, nurse_b):
    for _ in range(10):
        client.post(reverse("login"), {"username": "nurse_b", "password": "wrong-one"})
    page = dm_client.get(reverse("clinics:person", args=[nurse_b.pk])).text
    assert "Locked" in page and "10 failed sign-ins" in page
    assert "Locked" in dm_client.get(reverse("clinics:people")).text
    dm_client.post(reverse("clinics:person_unlock", args=[nurse_b.pk]))
    assert not AccessAttempt.objects.filter(username="nurse_b").exists()
    response = client.post(reverse("login"), {"username": "nurse_b", "password": PASSWORD})
    assert response.status_code == 302
    assert PeopleChangeLog.objects.filter(action="sign-in lock cleared").exists()


def test_unknown_person_is_404(dm_client):
    assert dm_client.get(reverse("clinics:person", args=[99999])).status_code == 404
