"""The audit trail: every create, change and delete of clinical data, with who, when,
old and new values, and the reason for a change after first entry."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from patients.models import FollowUpStatus, LostReason
from patients.services import patient_mark_lost, patient_update, patient_withdraw
from questionnaires.models import Administration
from questionnaires.services import administration_save
from tests.factories import full_answers

pytestmark = pytest.mark.django_db


def _diff(record) -> dict[str, tuple[object, object]]:
    delta = record.diff_against(record.prev_record)
    return {change.field: (change.old, change.new) for change in delta.changes}


def test_enrolment_is_recorded_with_who_and_when(make_patient, nurse_a):
    before = timezone.now()
    patient = make_patient()
    (record,) = patient.history.all()
    assert (record.history_type, record.history_user) == ("+", nurse_a)
    assert before <= record.history_date <= timezone.now()
    assert record.study_id == patient.study_id


def test_change_of_characteristics_keeps_old_and_new_value_and_reason(make_patient, nurse_b,
                                                                      data_manager):
    patient = make_patient(age=48)
    patient_update(patient=patient, by=data_manager, reason="age from the clinical record",
                   age=52)
    record = patient.history.first()
    assert (record.history_type, record.history_user) == ("~", data_manager)
    assert record.history_change_reason == "age from the clinical record"
    assert _diff(record) == {"age": (48, 52)}


def test_first_entry_of_an_administration_is_recorded(make_patient, make_administration,
                                                      nurse_a):
    administration = make_administration(make_patient())
    (record,) = administration.history.all()
    assert (record.history_type, record.history_user) == ("+", nurse_a)
    assert record.pih_overall == administration.pih_overall


def test_correction_of_a_completed_administration_records_values_scores_and_reason(
        make_patient, make_administration, nurse_a, data_manager):
    patient = make_patient()
    administration = make_administration(patient, answers=full_answers(pih=6))
    administration_save(patient=patient, timepoint="baseline",
                        administered_on=administration.administered_on,
                        answers=full_answers(pih=6) | {"pih_1": 2}, by=data_manager,
                        complete=True, base_version=administration.version,
                        reason="keyed 2 as 6")
    record = administration.history.first()
    assert (record.history_type, record.history_user) == ("~", data_manager)
    assert record.history_change_reason == "keyed 2 as 6"
    changes = _diff(record)
    assert changes["pih_1"] == (6, 2)
    # Scores are not editable fields, so diff_against leaves them out; both versions
    # are stored in full: (6 + 6) / 16 before, (2 + 6) / 16 after.
    assert (record.prev_record.pih_knowledge, record.pih_knowledge) == (75.0, 50.0)
    assert (record.prev_record.version, record.version) == (1, 2)
    assert record.prev_record.history_user == nurse_a


def test_refused_correction_leaves_no_trace_in_the_history(make_patient, make_administration,
                                                           nurse_a):
    patient = make_patient()
    administration = make_administration(patient)
    with pytest.raises(ValidationError):
        administration_save(patient=patient, timepoint="baseline",
                            administered_on=administration.administered_on,
                            answers=full_answers() | {"pih_1": 2}, by=nurse_a, complete=True,
                            base_version=administration.version)  # no reason given
    assert administration.history.count() == 1


def test_deleting_an_administration_is_recorded_with_its_last_values(make_patient,
                                                                     make_administration,
                                                                     data_manager):
    administration = make_administration(make_patient())
    pk, overall = administration.pk, administration.pih_overall
    administration._history_user = data_manager
    administration.delete()
    assert not Administration.objects.filter(pk=pk).exists()
    record = Administration.history.filter(id=pk).first()
    assert (record.history_type, record.history_user) == ("-", data_manager)
    assert record.pih_overall == overall


def test_withdrawal_and_the_status_change_it_causes_are_recorded(make_patient, data_manager):
    patient = make_patient()
    withdrawal = patient_withdraw(patient=patient, withdrawn_on=timezone.localdate(),
                                  reason="moved away", keep_collected_data=False,
                                  by=data_manager)
    (created,) = withdrawal.history.all()
    assert (created.history_type, created.history_user) == ("+", data_manager)
    assert created.keep_collected_data is False
    record = patient.history.first()
    assert record.history_change_reason == "withdrawal"
    assert _diff(record) == {"followup_status": (FollowUpStatus.ACTIVE, FollowUpStatus.LOST),
                             "lost_reason": ("", LostReason.WITHDREW)}


def test_loss_to_follow_up_is_recorded_with_its_reason(make_patient, nurse_a):
    patient = make_patient()
    patient_mark_lost(patient=patient, lost_reason=LostReason.DISCHARGED, by=nurse_a,
                      reason="two missed appointments")
    record = patient.history.first()
    assert (record.history_user, record.history_change_reason) == (
        nurse_a, "two missed appointments")
    assert _diff(record)["lost_reason"] == ("", LostReason.DISCHARGED)


def test_completing_the_follow_up_is_recorded_on_the_patient(make_patient, make_administration,
                                                             nurse_b):
    patient = make_patient()
    make_administration(patient)
    make_administration(patient, timepoint="followup", by=nurse_b)
    record = patient.history.first()
    assert (record.history_user, record.history_change_reason) == (
        nurse_b, "follow-up completed")
    assert _diff(record)["followup_status"] == (FollowUpStatus.ACTIVE,
                                                FollowUpStatus.COMPLETED)
