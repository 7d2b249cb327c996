"""The verified-keying pages: the clinic's list, the blind second keying, the differences
and their settling, the report and the setting; outsiders and read-only roles."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from questionnaires.models import Administration, KeyingStatus, KeyingVerification
from questionnaires.tests.entry_helpers import entry_data, entry_url
from questionnaires.verification import keying_setting_update
from tests.factories import full_answers, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def nurse_a2(clinic_a):
    return make_user("nurse_a2", [clinic_a], "nurse")


@pytest.fixture
def chosen(data_manager, make_patient, make_administration):
    keying_setting_update(mode="all", fraction=0.1, seed="s", by=data_manager)
    return make_administration(make_patient())


def _second_url(administration) -> str:
    return reverse("questionnaires:second_keying",
                   args=[administration.patient.study_id, administration.timepoint])


def _differences_url(administration) -> str:
    return reverse("questionnaires:keying_differences",
                   args=[administration.patient.study_id, administration.timepoint])


def _post_second(client, administration, **changes):
    return client.post(_second_url(administration), entry_data(
        full_answers() | changes, administered_on=administration.administered_on))


def test_entry_page_marks_the_form_unverified_and_hides_it_from_other_users(
        client, chosen, nurse_a, nurse_a2):
    client.force_login(nurse_a)
    page = client.get(entry_url(chosen.patient)).content.decode()
    assert "Unverified: awaiting a second keying" in page and "data-entry-form" in page
    client.force_login(nurse_a2)
    page = client.get(entry_url(chosen.patient)).content.decode()
    assert "Its values are hidden until it is keyed a second time" in page
    assert "data-entry-form" not in page and 'data-score="bpi_severity"' not in page


def test_second_keying_page_is_blank_and_shows_no_first_value(client, chosen, nurse_a2):
    client.force_login(nurse_a2)
    page = client.get(_second_url(chosen)).content.decode()
    checked = re.findall(r'<input[^>]*\bchecked\b[^>]*>', page)
    assert len(checked) == 1 and 'name="pih_form_version"' in checked[0]  # the default
    date_input = re.search(r'<input[^>]*name="administered_on"[^>]*>', page).group(0)
    assert "value=" not in date_input
    assert "data-score" not in page


def test_first_keyer_is_told_another_user_must_key_it_and_a_post_changes_nothing(
        client, chosen, nurse_a):
    client.force_login(nurse_a)
    page = client.get(_second_url(chosen)).content.decode()
    assert "You keyed or changed this questionnaire yourself" in page
    assert "data-entry-form" not in page
    _post_second(client, chosen)
    assert KeyingVerification.objects.get().status == KeyingStatus.AWAITING


def test_second_keying_with_a_difference_leads_to_the_side_by_side_and_is_settled(
        client, chosen, nurse_a2):
    client.force_login(nurse_a2)
    response = _post_second(client, chosen, bpi_worst=8)
    assert response.status_code == 302 and response.url == _differences_url(chosen)
    page = client.get(_differences_url(chosen)).content.decode()
    assert "bpi_worst" in page and "<td>5</td><td>8</td>" in page
    response = client.post(_differences_url(chosen), {"choice_bpi_worst": "second",
                                                      "reason_bpi_worst": ""})
    assert "Give the reason for this value." in response.content.decode()
    client.post(_differences_url(chosen), {"choice_bpi_worst": "second",
                                           "reason_bpi_worst": "paper shows 8"})
    assert Administration.objects.get(pk=chosen.pk).bpi_worst == 8
    assert KeyingVerification.objects.get().status == KeyingStatus.VERIFIED
    page = client.get(entry_url(chosen.patient)).content.decode()
    assert "data-unverified" not in page


def test_differences_are_not_shown_before_the_second_keying(client, chosen, nurse_a2):
    client.force_login(nurse_a2)
    assert client.get(_differences_url(chosen)).status_code == 404


def test_outsider_nurse_gets_404_and_researcher_403(client, chosen, nurse_b, researcher):
    client.force_login(nurse_b)
    assert client.get(_second_url(chosen)).status_code == 404
    assert client.get(reverse("questionnaires:keying_clinic", args=["A"])).status_code == 404
    client.force_login(researcher)
    assert client.get(_second_url(chosen)).status_code == 403
    assert client.get(reverse("questionnaires:keying_clinic", args=["A"])).status_code == 403


def test_clinic_list_shows_the_form_with_who_may_key_it(client, chosen, nurse_a, nurse_a2):
    url = reverse("questionnaires:keying_clinic", args=["A"])
    client.force_login(nurse_a)
    page = client.get(url).content.decode()
    assert "Awaiting a second keying (1)" in page and "another user keys it" in page
    client.force_login(nurse_a2)
    assert "Key A-001 baseline again" in client.get(url).content.decode()


def test_report_and_setting_are_for_data_managers(client, chosen, nurse_a, nurse_a2,
                                                  data_manager):
    client.force_login(nurse_a)
    assert client.get(reverse("questionnaires:keying_report")).status_code == 403
    assert client.post(reverse("questionnaires:keying_setting"),
                       {"mode": "off", "fraction": "0", "seed": "x"}).status_code == 403
    client.force_login(nurse_a2)
    _post_second(client, chosen, bpi_worst=8, bpi_least=2)
    client.force_login(data_manager)
    page = client.get(reverse("questionnaires:keying_report")).content.decode()
    assert "0 awaiting a second keying, 1 with differences to settle, 0 verified" in page
    assert "<td>1</td><td>36</td><td>2</td><td>5.56 %</td><td>2</td>" in page  # 2/36
    response = client.post(reverse("questionnaires:keying_setting"),
                           {"mode": "fraction", "fraction": "2", "seed": "x"})
    assert "fraction" in response.content.decode() and response.status_code == 200
    client.post(reverse("questionnaires:keying_setting"),
                {"mode": "fraction", "fraction": "0.25", "seed": "x"})
    from questionnaires.verification_selection import keying_setting

    assert (keying_setting().mode, keying_setting().fraction) == ("fraction", 0.25)
