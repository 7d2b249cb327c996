"""The reminder address: recorded by the clinic's nurses only, encrypted at rest, erased on
request and at study end, and found in no export, admin list or change history."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from reminders.models import ReminderContact
from reminders.services import contact_record

from .dates import ADDRESS, BASELINE_ON

pytestmark = pytest.mark.django_db


def _form_url(patient) -> str:
    return reverse("reminders:contact", kwargs={"study_id": patient.study_id})


def _record_url(patient) -> str:
    return reverse("patients:detail", kwargs={"study_id": patient.study_id})


def test_a_nurse_records_the_address_from_the_form(client, nurse_a, patient):
    client.force_login(nurse_a)
    response = client.post(_form_url(patient), {
        "email": "  Jo.Bloggs@EXAMPLE.org ", "consented_on": "2026-01-05", "agreed": "on"})
    assert response.status_code == 302
    contact = ReminderContact.objects.get(patient=patient)
    assert contact.email == "Jo.Bloggs@example.org"
    assert (contact.consented_on, contact.recorded_by) == (BASELINE_ON, nurse_a)


def test_no_address_without_the_patients_agreement(client, nurse_a, patient):
    client.force_login(nurse_a)
    response = client.post(_form_url(patient), {"email": ADDRESS,
                                                 "consented_on": "2026-01-05"})
    assert response.status_code == 200
    assert "only if the patient agreed" in response.content.decode()
    assert not ReminderContact.objects.exists()


@pytest.mark.parametrize("user", ["nurse_b", "data_manager", "researcher"])
def test_only_the_clinics_nurses_reach_the_form(client, request, patient, user):
    client.force_login(request.getfixturevalue(user))
    assert client.get(_form_url(patient)).status_code == 404
    assert client.post(_form_url(patient), {"email": ADDRESS, "consented_on": "2026-01-05",
                                            "agreed": "on"}).status_code == 404
    assert not ReminderContact.objects.exists()


def test_the_record_shows_the_address_to_the_clinics_nurse_only(client, nurse_a, data_manager,
                                                                researcher, contact):
    client.force_login(nurse_a)
    assert ADDRESS in client.get(_record_url(contact.patient)).content.decode()
    for other in (data_manager, researcher):
        client.force_login(other)
        page = client.get(_record_url(contact.patient))
        assert page.status_code == 200
        assert ADDRESS not in page.content.decode()
        assert "Email reminders" not in page.content.decode()


def test_the_address_is_encrypted_in_the_database(contact):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT email_encrypted FROM {ReminderContact._meta.db_table}")
        (stored,) = cursor.fetchone()
    assert ADDRESS not in stored and "example.org" not in stored
    assert contact.email == ADDRESS  # and it decrypts under the key


def test_the_address_has_no_change_history(contact):
    """History rows cannot be deleted (the audit trigger refuses it): an erasable address
    must never be copied into one."""
    assert not hasattr(ReminderContact, "history")
    assert not [model for model in apps.get_models()
                if model.__name__.startswith("Historical") and "Reminder" in model.__name__]


def test_a_nurse_erases_the_address(client, nurse_a, contact):
    client.force_login(nurse_a)
    url = reverse("reminders:contact_erase", kwargs={"study_id": contact.patient.study_id})
    assert client.post(url).status_code == 302
    contact.refresh_from_db()
    assert (contact.email_encrypted, contact.email) == ("", "")
    assert contact.erased_at is not None


def test_a_nurse_of_another_clinic_cannot_erase_it(client, nurse_b, contact):
    client.force_login(nurse_b)
    url = reverse("reminders:contact_erase", kwargs={"study_id": contact.patient.study_id})
    assert client.post(url).status_code == 404
    contact.refresh_from_db()
    assert contact.email == ADDRESS


def test_no_address_is_recorded_for_a_withdrawn_patient(patient, nurse_a):
    from django.core.exceptions import ValidationError

    from patients.services import patient_withdraw

    patient_withdraw(patient=patient, withdrawn_on=BASELINE_ON, reason="",
                     keep_collected_data=True, by=nurse_a)
    with pytest.raises(ValidationError):
        contact_record(patient=patient, email=ADDRESS, consented_on=BASELINE_ON, by=nurse_a)


def test_the_study_end_command_erases_every_address(contact, clinic_a, nurse_a):
    from tests.factories import enrol_patient

    other = enrol_patient(clinic=clinic_a, by=nurse_a, consented_on=BASELINE_ON)
    contact_record(patient=other, email="b@example.org", consented_on=BASELINE_ON, by=nurse_a)
    out = io.StringIO()
    call_command("reminders_erase_all", stdout=out)
    assert "Erased 2 reminder addresses" in out.getvalue()
    assert list(ReminderContact.objects.values_list("email_encrypted", flat=True)) == ["", ""]
    assert not ReminderContact.objects.filter(erased_at__isnull=True).exists()


@pytest.fixture
def contact_in_exports(contact):
    """A patient in every export (the baseline row) while the address is held: a completed
    follow-up would erase the address at once."""
    assert ReminderContact.objects.get(pk=contact.pk).email == ADDRESS
    return contact


@pytest.mark.parametrize("file", ["cohort_csv", "wide_csv", "cohort_dta", "wide_dta",
                                  "codebook_csv"])
def test_the_address_is_in_no_export(client, data_manager, contact_in_exports, file):
    client.force_login(data_manager)
    response = client.get(reverse("analysis:download", kwargs={"file": file}))
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert ADDRESS.encode() not in content
    assert contact_in_exports.email_encrypted.encode() not in content
    assert b"email" not in content.lower()


def test_the_address_is_in_no_admin_list(client, admin_user, contact):
    client.force_login(admin_user)
    assert ReminderContact not in admin.site._registry
    pages = [reverse("admin:index")] + [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert ADDRESS not in response.content.decode(), page


def test_a_completed_follow_up_erases_the_address_in_its_own_transaction(contact, nurse_a, clock):
    from tests.factories import save_administration

    clock.move_to(dt.datetime(2026, 4, 5, 12, tzinfo=dt.UTC))
    save_administration(contact.patient, by=nurse_a, timepoint="followup",
                        administered_on=dt.date(2026, 4, 5))
    contact.refresh_from_db()
    assert (contact.email_encrypted, contact.erased_at is not None) == ("", True)


def test_a_withdrawal_erases_the_address_in_its_own_transaction(contact, nurse_a):
    from patients.services import patient_withdraw

    patient_withdraw(patient=contact.patient, withdrawn_on=contact.patient.consented_on,
                     reason="", keep_collected_data=True, by=nurse_a)
    contact.refresh_from_db()
    assert contact.email_encrypted == "" and contact.erased_at is not None


def test_a_plain_baseline_save_runs_no_erasure(contact, nurse_a):
    """Only followup_closed erases: saving the baseline again (a data change, not a
    closed follow-up) sends no UPDATE to the address table."""
    from django.test.utils import CaptureQueriesContext

    from questionnaires.models import Administration
    from questionnaires.services import administration_save
    from tests.factories import full_answers

    table = ReminderContact._meta.db_table
    baseline = Administration.objects.get(patient=contact.patient, timepoint="baseline")
    with CaptureQueriesContext(connection) as queries:
        administration_save(patient=contact.patient, timepoint="baseline",
                            administered_on=BASELINE_ON, by=nurse_a, complete=True,
                            answers={**full_answers(), "bpi_worst": 2},
                            base_version=baseline.version, reason="keying error")
    print([q["sql"][:90] for q in queries.captured_queries ])
    assert queries.captured_queries  # the save itself was captured
    assert not [q["sql"] for q in queries.captured_queries
                if q["sql"].startswith("UPDATE") and table in q["sql"]]


def test_followup_closed_is_sent_once_with_its_reason(contact, nurse_a, clock):
    from core.signals import patient_followup_closed
    from patients.services import patient_mark_lost, patient_withdraw
    from tests.factories import enrol_patient

    sent: list[tuple[str, str]] = []

    def record(sender, *, patient, reason, **kwargs):
        sent.append((patient.study_id, reason))

    patient_followup_closed.connect(record, dispatch_uid="test.record")
    try:
        other = enrol_patient(clinic=contact.patient.clinic, by=nurse_a,
                              consented_on=BASELINE_ON)
        patient_mark_lost(patient=other, lost_reason="did_not_attend", by=nurse_a)
        patient_withdraw(patient=contact.patient, withdrawn_on=contact.patient.consented_on,
                         reason="", keep_collected_data=True, by=nurse_a)
    finally:
        patient_followup_closed.disconnect(dispatch_uid="test.record")
    assert sent == [(other.study_id, "lost"), (contact.patient.study_id, "withdrawn")]
