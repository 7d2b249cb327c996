"""Enrolment with consent, withdrawal and loss to follow-up from the browser forms."""
from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.models import Patient

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def _consent(**extra) -> dict:
    data = {"consent_given": "on", "consented_on": TODAY.isoformat(),
            "consent_form_version": "v1.2", "consent_taken_by": "Sister Jones"}
    data.update(extra)
    return data


@pytest.fixture
def nurse_client(client, nurse_a):
    client.force_login(nurse_a)
    return client


def _enrol(client, **extra):
    return client.post(reverse("patients:enrol", args=["A"]), _consent(**extra))


def test_enrolment_generates_study_ids_per_clinic(nurse_client):
    first, second = _enrol(nurse_client, age="40"), _enrol(nurse_client)
    assert [p.study_id for p in Patient.objects.order_by("pk")] == ["A-001", "A-002"]
    assert first.url == reverse("questionnaires:entry", args=["A-001", "baseline"])
    assert second.status_code == 302
    patient = Patient.objects.get(study_id="A-001")
    assert (patient.consent_form_version, patient.consent_taken_by, patient.age) == (
        "v1.2", "Sister Jones", 40)


def test_enrolment_uses_a_typed_study_id(nurse_client):
    _enrol(nurse_client, study_id="a-017")
    assert Patient.objects.get().study_id == "A-017"


@pytest.mark.parametrize(("typed", "message"), [
    ("B-001", "starts with A-"), ("A017", "clinic code, a dash"), ("A-001", "already in use")])
def test_bad_typed_study_id_is_refused(nurse_client, make_patient, typed, message):
    make_patient()
    response = _enrol(nurse_client, study_id=typed)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Patient.objects.count() == 1


def test_enrolment_without_consent_confirmed_writes_nothing(nurse_client):
    data = _consent()
    del data["consent_given"]
    response = nurse_client.post(reverse("patients:enrol", args=["A"]), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="#id_consent_given"' in page
    assert not Patient.objects.exists()


def test_future_consent_date_is_refused(nurse_client):
    response = _enrol(nurse_client, consented_on=(TODAY + dt.timedelta(days=1)).isoformat())
    assert "cannot be in the future" in response.content.decode()
    assert not Patient.objects.exists()


def test_age_outside_study_range_is_refused(nurse_client):
    response = _enrol(nurse_client, age="17")
    assert response.status_code == 200
    assert 'id="id_age_error"' in response.content.decode()
    assert not Patient.objects.exists()


def test_withdrawal_records_whether_data_stays(nurse_client, make_patient):
    patient = make_patient()
    response = nurse_client.post(reverse("patients:withdraw", args=[patient.study_id]), {
        "withdrawn_on": TODAY.isoformat(), "keep_collected_data": "no", "reason": "",
        "confirm": "yes"})
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.withdrawal.keep_collected_data is False
    assert (patient.followup_status, patient.lost_reason) == ("lost", "withdrew")
    assert patient.withdrawal.recorded_by.username == "nurse_a"


def test_withdrawal_needs_an_explicit_choice_about_the_data(nurse_client, make_patient):
    patient = make_patient()
    response = nurse_client.post(reverse("patients:withdraw", args=[patient.study_id]), {
        "withdrawn_on": TODAY.isoformat()})
    assert response.status_code == 200
    assert "Choose whether the data already collected stays" in response.content.decode()
    assert not hasattr(Patient.objects.get(), "withdrawal")


def test_second_withdrawal_is_not_recorded_twice(nurse_client, make_patient):
    patient = make_patient()
    url = reverse("patients:withdraw", args=[patient.study_id])
    data = {"withdrawn_on": TODAY.isoformat(), "keep_collected_data": "yes", "confirm": "yes"}
    nurse_client.post(url, data)
    response = nurse_client.post(url, data)
    assert response.status_code == 302
    assert patient.withdrawal.history.count() == 1


def test_withdrawal_is_written_only_after_the_confirmation(nurse_client, make_patient):
    patient = make_patient()
    url = reverse("patients:withdraw", args=[patient.study_id])
    data = {"withdrawn_on": TODAY.isoformat(), "keep_collected_data": "no",
            "reason": "moving away"}
    shown = nurse_client.post(url, data)
    html = shown.content.decode()
    assert shown.status_code == 200 and "Confirm withdrawal" in html
    assert "left out of every analysis and export" in html and "reminder address is erased" in html
    assert 'name="reason" value="moving away"' in html  # carried to the final submit
    for other in ({"confirm": "no"}, {"back": "yes"}, {"confirm": ""}):
        nurse_client.post(url, {**data, **other})
    assert not hasattr(Patient.objects.get(), "withdrawal")
    back = nurse_client.post(url, {**data, "back": "yes"}).content.decode()
    assert "Confirm withdrawal" not in back and "moving away</textarea>" in back
    assert nurse_client.post(url, {**data, "confirm": "yes"}).status_code == 302
    withdrawal = Patient.objects.get().withdrawal
    assert (withdrawal.keep_collected_data, withdrawal.reason) == (False, "moving away")


def test_loss_to_followup_is_recorded_with_its_reason(nurse_client, make_patient):
    patient = make_patient()
    response = nurse_client.post(reverse("patients:lost", args=[patient.study_id]), {
        "lost_reason": "did_not_attend", "reason": "two missed appointments"})
    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.followup_status, patient.lost_reason) == ("lost", "did_not_attend")
    assert patient.history.first().history_change_reason == "two missed appointments"


def test_loss_after_completed_followup_is_refused(nurse_client, make_patient,
                                                  make_administration):
    patient = make_patient()
    make_administration(patient)
    make_administration(patient, timepoint="followup")
    response = nurse_client.post(reverse("patients:lost", args=[patient.study_id]), {
        "lost_reason": "discharged"})
    assert response.status_code == 200
    assert "already complete" in response.content.decode()
    patient.refresh_from_db()
    assert patient.followup_status == "completed"


def test_a_repeated_enrolment_form_creates_one_patient(nurse_client):
    key = "6f1c2d3e-0000-4000-8000-000000000001"
    first = _enrol(nurse_client, enrolment_key=key, age="40")
    second = _enrol(nurse_client, enrolment_key=key, age="40")
    assert Patient.objects.count() == 1
    assert first["Location"] == second["Location"]


def test_a_repeated_enrolment_with_a_typed_study_id_is_not_refused_as_in_use(nurse_client):
    key = "6f1c2d3e-0000-4000-8000-000000000002"
    _enrol(nurse_client, enrolment_key=key, study_id="A-017")
    again = _enrol(nurse_client, enrolment_key=key, study_id="A-017")
    assert again.status_code == 302
    assert list(Patient.objects.values_list("study_id", flat=True)) == ["A-017"]


def test_each_enrolment_form_carries_a_fresh_key(nurse_client):
    pages = [nurse_client.get(reverse("patients:enrol", args=["A"])).content.decode()
             for _ in range(2)]
    keys = [page.split('name="enrolment_key" value="')[1][:36] for page in pages]
    assert keys[0] != keys[1]


def test_enrolment_errors_say_what_to_do_and_follow_the_page_order(client, nurse_a):
    """Issue 14: the consent version error in product words; the summary in page order
    (consent box, then the version), although the form declares the box after the version."""
    import re

    from django.urls import reverse

    client.force_login(nurse_a)
    response = client.post(reverse("patients:enrol", args=["A"]), {
        "consented_on": "01/01/2026", "consent_taken_by": "nurse"})
    page = response.content.decode()
    assert "This field is required." not in page
    summary = re.search(r'<ul class="error-summary__list">(.*?)</ul>', page, re.S).group(1)
    lines = [re.sub(r"<[^>]+>", "", li).strip() for li in re.findall(r"<li>(.*?)</li>",
                                                                    summary, re.S)]
    assert lines == [
        "The patient has signed the consent form: Confirm that the patient has signed the "
        "consent form.",
        "Consent form version: Type the consent form version printed on the signed form, "
        "e.g. v1.0."]
