"""Where each user lands, and what the navigation offers by role."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from clinics.models import Membership, Role
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_nurse_lands_on_her_clinics_worklist(client, nurse_a):
    client.force_login(nurse_a)
    response = client.get(reverse("home"))
    assert response.url == reverse("clinics:worklist", args=["A"])


def test_sign_in_form_leads_a_nurse_to_the_worklist(client, nurse_a):
    response = client.post(reverse("login"), {"username": "nurse_a", "password": PASSWORD},
                           follow=True)
    assert response.redirect_chain[-1][0] == reverse("clinics:worklist", args=["A"])


def test_nurse_at_two_clinics_picks_one(client, nurse_a, clinic_b):
    Membership.objects.create(user=nurse_a, clinic=clinic_b, role=Role.NURSE)
    client.force_login(nurse_a)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    page = response.content.decode()
    assert reverse("clinics:worklist", args=["A"]) in page
    assert reverse("clinics:worklist", args=["B"]) in page


def test_researcher_goes_to_the_dashboard(client, researcher):
    client.force_login(researcher)
    assert client.get(reverse("home")).url == reverse("analysis:dashboard")


def test_study_wide_clinic_list_shows_every_clinic(client, researcher, clinic_b):
    client.force_login(researcher)
    page = client.get(reverse("clinics:list")).content.decode()
    assert reverse("clinics:worklist", args=["B"]) in page  # study-wide: every clinic


def test_user_without_membership_gets_a_polite_page(client, db):
    user = get_user_model().objects.create_user(username="newcomer", password="x" * 12)
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert "ask the study's data manager to add you" in response.content.decode()


def test_anonymous_user_is_sent_to_sign_in(client, db):
    response = client.get(reverse("home"))
    assert response.url.startswith(reverse("login"))


def _nav(client, user) -> str:
    client.force_login(user)
    page = client.get(reverse("clinics:list"), follow=True).content.decode()
    return page.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]


def test_nurse_navigation_shows_worklist_not_export(client, nurse_a):
    nav = _nav(client, nurse_a)
    assert ">Worklist<" in nav and "Sign out" in nav
    assert ">Export<" not in nav and ">Admin<" not in nav


def test_researcher_navigation_has_no_worklist(client, researcher):
    nav = _nav(client, researcher)
    assert ">Worklist<" not in nav


def test_staff_navigation_shows_admin(client, data_manager):
    data_manager.is_staff = True
    data_manager.save()
    nav = _nav(client, data_manager)
    assert ">Admin<" in nav and ">Worklist<" in nav
