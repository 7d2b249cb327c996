"""Record sign-off and unlock: who may, when it is blocked, and what a signed-off record
refuses (in the services, whatever page or task calls them)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from patients.models import FollowUpStatus, Patient
from patients.selectors import clinic_sign_off_preview, sign_off_state
from patients.services import (
    clinic_sign_off,
    patient_mark_lost,
    patient_update,
    patient_withdraw,
    record_sign_off,
    record_unlock,
)
from questionnaires.models import Administration
from questionnaires.services import administration_save
from tests.factories import full_answers

pytestmark = pytest.mark.django_db


@pytest.fixture
def complete_patient(make_patient, make_administration):
    patient = make_patient()
    make_administration(patient)
    return patient


@pytest.fixture
def signed_off(complete_patient, data_manager):
    return record_sign_off(patient=complete_patient, by=data_manager)


def _refused(excinfo) -> str:
    assert excinfo.value.code == "signed_off" or "signed_off" in [
        e.code for e in excinfo.value.error_list]
    return " ".join(excinfo.value.messages)


def test_sign_off_of_a_complete_record_is_recorded_with_who_and_when(signed_off,
                                                                      data_manager):
    patient = Patient.objects.get(pk=signed_off.pk)
    assert patient.signed_off_by == data_manager and patient.is_signed_off
    latest = patient.history.latest("history_id")
    assert (latest.history_user, latest.history_change_reason) == (data_manager,
                                                                    "record signed off")


def test_record_without_questionnaire_cannot_be_signed_off(make_patient, data_manager):
    patient = make_patient()
    with pytest.raises(ValidationError) as excinfo:
        record_sign_off(patient=patient, by=data_manager)
    assert excinfo.value.messages == ["A-001 cannot be signed off: no questionnaire entered."]
    assert Patient.objects.get(pk=patient.pk).signed_off_at is None


def test_record_with_a_draft_cannot_be_signed_off(complete_patient, data_manager,
                                                  make_administration):
    make_administration(complete_patient, timepoint="followup", complete=False)
    with pytest.raises(ValidationError, match="1 questionnaire is a draft"):
        record_sign_off(patient=complete_patient, by=data_manager)


def test_patient_answers_not_yet_checked_block_sign_off(make_patient, data_manager, nurse_a):
    patient = make_patient()
    administration_save(patient=patient, timepoint="baseline",
                        administered_on=patient.consented_on, answers=full_answers(),
                        by=None, complete=True, source="tablet")
    assert sign_off_state(patient).blockers == [
        "1 patient-completed questionnaire awaits a nurse's check"]


def test_a_registered_blocker_stops_sign_off(complete_patient, data_manager, monkeypatch):
    from patients import signoff

    monkeypatch.setattr(signoff, "_BLOCKERS", [*signoff._BLOCKERS,
                                               lambda ids: dict.fromkeys(ids, "1 open query")])
    with pytest.raises(ValidationError, match="1 open query"):
        record_sign_off(patient=complete_patient, by=data_manager)


def test_signing_off_twice_changes_nothing(signed_off, data_manager):
    history = signed_off.history.count()
    again = record_sign_off(patient=signed_off, by=data_manager)
    assert again.signed_off_at == signed_off.signed_off_at
    assert signed_off.history.count() == history


# -- what a signed-off record refuses ----------------------------------------------------

def test_correction_of_a_signed_off_record_is_refused(signed_off, nurse_a):
    stale = Patient.objects.get(pk=signed_off.pk)
    stale.signed_off_at = None  # a copy loaded before the sign-off: the lock reads again
    admin = Administration.objects.get(patient=signed_off)
    with pytest.raises(ValidationError) as excinfo:
        administration_save(patient=stale, timepoint="baseline",
                            administered_on=admin.administered_on,
                            answers=full_answers(bpi=2), by=nurse_a, complete=True,
                            base_version=admin.version, reason="keying error")
    assert "A-001: Signed off on" in _refused(excinfo)
    assert Administration.objects.get(pk=admin.pk).bpi_worst == 5


def test_new_questionnaire_on_a_signed_off_record_is_refused(signed_off, nurse_a):
    with pytest.raises(ValidationError) as excinfo:
        administration_save(patient=signed_off, timepoint="followup",
                            administered_on=signed_off.consented_on + dt.timedelta(days=90),
                            answers=full_answers(), by=nurse_a, complete=True)
    _refused(excinfo)
    assert not Administration.objects.filter(patient=signed_off, timepoint="followup").exists()


def test_characteristics_of_a_signed_off_record_cannot_change(signed_off, nurse_a):
    with pytest.raises(ValidationError) as excinfo:
        patient_update(patient=signed_off, by=nurse_a, reason="typo", age=50)
    _refused(excinfo)
    assert Patient.objects.get(pk=signed_off.pk).age == 48


def test_loss_to_follow_up_of_a_signed_off_record_is_refused(signed_off, nurse_a):
    with pytest.raises(ValidationError) as excinfo:
        patient_mark_lost(patient=signed_off, lost_reason="discharged", by=nurse_a)
    _refused(excinfo)
    assert Patient.objects.get(pk=signed_off.pk).followup_status == FollowUpStatus.ACTIVE


def test_patient_self_completion_into_a_signed_off_record_is_refused(signed_off, nurse_a):
    from selfcompletion.services import tablet_handover_start

    with pytest.raises(ValidationError) as excinfo:
        tablet_handover_start(patient=signed_off, timepoint="followup", by=nurse_a)
    _refused(excinfo)
    with pytest.raises(ValidationError) as excinfo:
        administration_save(patient=signed_off, timepoint="followup",
                            administered_on=signed_off.consented_on + dt.timedelta(days=90),
                            answers=full_answers(), by=None, complete=True, source="link")
    _refused(excinfo)


def test_withdrawal_of_consent_is_still_recorded_on_a_signed_off_record(signed_off, nurse_a):
    patient_withdraw(patient=signed_off, withdrawn_on=signed_off.consented_on
                     + dt.timedelta(days=10), reason="", keep_collected_data=False,
                     by=nurse_a)
    patient = Patient.objects.get(pk=signed_off.pk)
    assert patient.withdrawal.keep_collected_data is False
    assert patient.followup_status == FollowUpStatus.LOST
    assert patient.is_signed_off  # the withdrawal leaves the sign-off in place


# -- unlock ------------------------------------------------------------------------------

def test_unlock_needs_a_reason(signed_off, data_manager):
    with pytest.raises(ValidationError) as excinfo:
        record_unlock(patient=signed_off, by=data_manager, reason="  ")
    assert excinfo.value.message_dict == {"reason": ["Give the reason for unlocking the "
                                                     "record."]}
    assert Patient.objects.get(pk=signed_off.pk).is_signed_off


def test_unlocked_record_takes_changes_again_and_the_reason_is_audited(signed_off,
                                                                       data_manager, nurse_a):
    record_unlock(patient=signed_off, by=data_manager, reason="query 12: age on paper")
    patient = Patient.objects.get(pk=signed_off.pk)
    assert not patient.is_signed_off and patient.signed_off_by is None
    latest = patient.history.latest("history_id")
    assert latest.history_change_reason == "record unlocked: query 12: age on paper"
    assert latest.history_user == data_manager
    patient_update(patient=patient, by=nurse_a, reason="paper says 50", age=50)
    assert Patient.objects.get(pk=patient.pk).age == 50


def test_unlocking_an_open_record_is_refused(complete_patient, data_manager):
    with pytest.raises(ValidationError, match="A-001 is not signed off"):
        record_unlock(patient=complete_patient, by=data_manager, reason="why not")


# -- a clinic's bulk sign-off ----------------------------------------------------------------

def test_clinic_sign_off_signs_the_eligible_and_says_why_others_were_skipped(
        make_patient, make_administration, data_manager, clinic_b, nurse_a):
    ready = make_patient()
    make_administration(ready)
    drafting = make_patient()
    make_administration(drafting, complete=False)
    make_patient()                                            # nothing entered
    earlier = make_patient()
    make_administration(earlier)
    record_sign_off(patient=earlier, by=data_manager)
    other = make_patient(clinic=clinic_b)
    make_administration(other)
    assert clinic_sign_off_preview(ready.clinic).eligible == ["A-001"]
    result = clinic_sign_off(clinic=ready.clinic, by=data_manager)
    assert result.signed_off == ["A-001"]
    assert result.skipped == [("A-002", "1 questionnaire is a draft"),
                              ("A-003", "no questionnaire entered")]
    assert result.already == 1
    assert set(Patient.objects.filter(signed_off_at__isnull=False)
               .values_list("study_id", flat=True)) == {"A-001", "A-004"}
    latest = Patient.objects.get(pk=ready.pk).history.latest("history_id")
    assert latest.history_change_reason == "record signed off (clinic sign-off)"


# -- the pages ---------------------------------------------------------------------------------

def test_nurses_cannot_sign_off_or_unlock(client, nurse_a, nurse_b, complete_patient):
    for nurse in (nurse_a, nurse_b):
        client.force_login(nurse)
        assert client.post(reverse("patients:sign_off", args=["A-001"])).status_code == 403
        assert client.post(reverse("patients:unlock", args=["A-001"]),
                           {"reason": "x"}).status_code == 403
        assert client.post(reverse("patients:clinic_sign_off", args=["A"])).status_code == 403
    assert not Patient.objects.get(pk=complete_patient.pk).is_signed_off


def test_data_manager_signs_off_and_unlocks_from_the_page(client, data_manager,
                                                          complete_patient):
    client.force_login(data_manager)
    url = reverse("patients:sign_off", args=["A-001"])
    assert "Sign off A-001" in client.get(url).content.decode()
    assert client.post(url).status_code == 302
    page = client.get(url).content.decode()
    assert "Signed off on" in page and "Unlock" in page
    response = client.post(reverse("patients:unlock", args=["A-001"]), {"reason": ""})
    assert "Give the reason for unlocking the record." in response.content.decode()
    assert Patient.objects.get(pk=complete_patient.pk).is_signed_off
    client.post(reverse("patients:unlock", args=["A-001"]), {"reason": "query 3"})
    assert not Patient.objects.get(pk=complete_patient.pk).is_signed_off


def test_sign_off_page_lists_what_blocks_it(client, data_manager, make_patient):
    make_patient()
    client.force_login(data_manager)
    url = reverse("patients:sign_off", args=["A-001"])
    assert "no questionnaire entered" in client.get(url).content.decode()
    response = client.post(url)
    assert "A-001 cannot be signed off: no questionnaire entered." in response.content.decode()


def test_entry_page_of_a_signed_off_record_is_read_only_and_refuses_a_post(
        client, nurse_a, signed_off):
    from questionnaires.tests.entry_helpers import entry_data, entry_url

    client.force_login(nurse_a)
    page = client.get(entry_url(signed_off)).content.decode()
    assert "data-signed-off" in page and "read-only until a data manager unlocks it" in page
    assert "data-entry-form" not in page
    admin = Administration.objects.get(patient=signed_off)
    response = client.post(entry_url(signed_off), entry_data(
        full_answers(bpi=1), administered_on=admin.administered_on,
        base_version=admin.version, reason="forged"))
    assert response.status_code == 200
    assert "read-only until a data manager unlocks it" in response.content.decode()
    assert Administration.objects.get(pk=admin.pk).bpi_worst == 5


def test_clinic_sign_off_page_previews_then_reports(client, data_manager, complete_patient,
                                                    make_patient):
    make_patient()
    client.force_login(data_manager)
    url = reverse("patients:clinic_sign_off", args=["A"])
    page = client.get(url).content.decode()
    assert "<strong>1</strong> record can be signed off now; 1 cannot" in page
    page = client.post(url).content.decode()
    assert "1 record signed off" in page and "A-002" in page
    assert "no questionnaire entered" in page


def test_sign_off_events_list_sign_off_and_unlock_with_reasons(signed_off, data_manager):
    from patients.selectors import sign_off_events

    record_unlock(patient=signed_off, by=data_manager, reason="query 7")
    events = sign_off_events(signed_off)
    assert [(e.action, e.who, e.reason) for e in events] == [
        ("signed off", "data_manager", "record signed off"),
        ("unlocked", "data_manager", "record unlocked: query 7")]


def test_clinic_sign_off_costs_the_same_queries_for_2_or_6_records(
        make_patient, make_administration, data_manager):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(count: int) -> int:
        for _ in range(count):
            make_administration(make_patient())
        Patient.objects.update(signed_off_at=None)
        with CaptureQueriesContext(connection) as captured:
            result = clinic_sign_off(clinic=Patient.objects.first().clinic, by=data_manager)
        assert len(result.signed_off) == Patient.objects.count()
        return len(captured)

    assert queries_for(2) == queries_for(4)  # 2 then 6 records
