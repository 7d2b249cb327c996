"""Enrolment, withdrawal and loss to follow-up through the services."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from patients.models import Patient
from patients.services import patient_enrol, patient_mark_lost, patient_update, patient_withdraw

pytestmark = pytest.mark.django_db


def test_study_ids_are_generated_per_clinic_in_sequence(make_patient, clinic_a, clinic_b):
    ids = [make_patient(clinic=c).study_id for c in (clinic_a, clinic_a, clinic_b)]
    assert ids == ["A-001", "A-002", "B-001"]


def test_generated_id_skips_one_typed_in_from_a_paper_form(make_patient):
    make_patient(study_id="A-001")
    assert make_patient().study_id == "A-002"


def test_typed_in_study_id_must_be_unique(make_patient):
    make_patient(study_id="A-017")
    with pytest.raises(ValidationError) as excinfo:
        make_patient(study_id="A-017")
    assert "study_id" in excinfo.value.message_dict


def test_enrolment_without_consent_form_version_is_refused(clinic_a, nurse_a):
    with pytest.raises(ValidationError) as excinfo:
        patient_enrol(clinic=clinic_a, consented_on=timezone.localdate(), consent_form_version="",
                      consent_taken_by="Nurse A", by=nurse_a)
    assert "consent_form_version" in excinfo.value.message_dict
    assert not Patient.objects.exists()


def test_age_outside_18_to_110_is_refused_by_the_database(make_patient):
    patient = make_patient()
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.filter(pk=patient.pk).update(age=17)


def test_withdrawal_marks_patient_lost_and_keeps_the_choice(make_patient, nurse_a):
    patient = make_patient()
    withdrawal = patient_withdraw(patient=patient, withdrawn_on=timezone.localdate(),
                                  reason="moved away", keep_collected_data=False, by=nurse_a)
    patient.refresh_from_db()
    assert (patient.followup_status, patient.lost_reason) == ("lost", "withdrew")
    assert withdrawal.keep_collected_data is False
    assert withdrawal.history.first().history_user == nurse_a


def test_withdrawal_before_consent_is_refused(make_patient, nurse_a):
    patient = make_patient()
    with pytest.raises(ValidationError):
        patient_withdraw(patient=patient, withdrawn_on=patient.consented_on - dt.timedelta(1),
                         reason="", keep_collected_data=True, by=nurse_a)


def test_lost_to_follow_up_needs_a_known_reason(make_patient, nurse_a):
    patient = make_patient()
    with pytest.raises(ValidationError):
        patient_mark_lost(patient=patient, lost_reason="bored", by=nurse_a)
    patient_mark_lost(patient=patient, lost_reason="did_not_attend", by=nurse_a)
    patient.refresh_from_db()
    assert patient.lost_reason == "did_not_attend"


def test_a_typed_in_study_id_must_follow_the_pattern(make_patient):
    with pytest.raises(ValidationError) as excinfo:
        make_patient(study_id="=1+2")
    assert "study_id" in excinfo.value.message_dict


def test_a_patient_imported_before_the_study_id_rule_can_still_be_followed_up(
        make_patient, nurse_a):
    patient = make_patient()
    Patient.objects.filter(pk=patient.pk).update(study_id="A-X9")  # an ID from before the rule
    patient.refresh_from_db()
    patient_update(patient=patient, by=nurse_a, reason="typo", age=51)
    patient_mark_lost(patient=patient, lost_reason="did_not_attend", by=nurse_a)
    patient.refresh_from_db()
    assert (patient.study_id, patient.age, patient.lost_reason) == ("A-X9", 51, "did_not_attend")
