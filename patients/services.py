"""Writes to patients: enrolment with consent, withdrawal, loss to follow-up."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinics.models import Clinic
from core.signals import COMPLETED, LOST, WITHDRAWN, data_changed, followup_closed

from .characteristics import CHARACTERISTIC_CODES
from .models import FollowUpStatus, LostReason, Patient, PatientAccessLog, Withdrawal
from .validators import validate_collection_open

# The study-ID rule is checked when an ID is given (enrolment); a patient imported before
# the rule existed must still be correctable and followed up under the ID it has.
UNCHANGED_ID = ["study_id"]


def _check_characteristics(characteristics: dict[str, Any]) -> None:
    unknown = set(characteristics) - set(CHARACTERISTIC_CODES)
    if unknown:
        raise TypeError(f"Unknown patient characteristics: {', '.join(sorted(unknown))}")


def lock_for_data_change(patient: Patient) -> Withdrawal | None:
    """Lock the patient's row and return their withdrawal, if any.

    Every write to a patient's data takes this lock (data entry, corrections, withdrawal),
    so a save and a withdrawal recorded at the same moment queue: the save either lands
    before the withdrawal or sees it and is refused.
    """
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    return Withdrawal.objects.filter(patient_id=patient.pk).first()


def _next_study_id(*, locked: Clinic) -> str:
    """The clinic's next free study ID (A-001, A-002, ...); `locked` is the locked row."""
    while True:
        candidate = f"{locked.code}-{locked.next_patient_number:03d}"
        locked.next_patient_number += 1
        if not Patient.objects.filter(study_id=candidate).exists():
            break
    locked.save(update_fields=["next_patient_number"])
    return candidate


# The enrolment page passes this: an enrolment identical to one the same user made this
# recently is a repeat of it (a resend without the form's key), not a second patient.
# Enrolling a patient takes minutes (consent first), far longer than this.
FORM_REPEAT_WINDOW = dt.timedelta(seconds=120)


def _recent_identical(patient: Patient, *, by: AbstractBaseUser | None, typed_id: bool,
                      window: dt.timedelta | None) -> Patient | None:
    """The patient `by` enrolled within `window` with exactly these consent fields and
    characteristics (and this study ID, if typed), if any."""
    if not window or by is None:
        return None
    same = {name: getattr(patient, name) for name in (
        "consented_on", "consent_form_version", "consent_taken_by", *CHARACTERISTIC_CODES)}
    if typed_id:
        same["study_id"] = patient.study_id
    return (Patient.objects.filter(clinic_id=patient.clinic_id, created_by=by,
                                   created_at__gte=timezone.now() - window, **same)
            .order_by("pk").first())


@transaction.atomic
def patient_enrol(*, clinic: Clinic, consented_on: dt.date, consent_form_version: str,
                  consent_taken_by: str, by: AbstractBaseUser | None,
                  study_id: str = "", enrolment_key: uuid.UUID | None = None,
                  repeat_window: dt.timedelta | None = None,
                  **characteristics: Any) -> Patient:
    """Record consent and baseline characteristics; generate the study ID unless given.

    enrolment_key is the enrolment form's one-time key: a second submission of the same
    form (a double click, a resend) returns the patient the first one created. A post
    without the key is caught by repeat_window (the enrolment page passes
    FORM_REPEAT_WINDOW): an enrolment by the same user identical in every field to one
    made within the window returns that patient. Both checks run under the clinic's row
    lock, so they hold for posts arriving at the same moment.
    """
    _check_characteristics(characteristics)
    if consented_on > timezone.localdate():
        raise ValidationError({"consented_on": "The consent date cannot be in the future."})
    # Enrolments at a clinic queue on its row (which also holds the study ID counter), so
    # a repeated submission waiting here sees the patient the first one committed.
    locked = Clinic.objects.select_for_update().get(pk=clinic.pk)
    if enrolment_key is not None:
        already = Patient.objects.filter(enrolment_key=enrolment_key).first()
        if already is not None:
            return already
    patient = Patient(
        clinic=clinic, study_id=study_id.strip(), consented_on=consented_on,
        consent_form_version=consent_form_version, consent_taken_by=consent_taken_by,
        created_by=by, enrolment_key=enrolment_key, **characteristics)
    repeated = _recent_identical(patient, by=by, typed_id=bool(patient.study_id),
                                 window=repeat_window)
    if repeated is not None:
        return repeated
    patient.study_id = patient.study_id or _next_study_id(locked=locked)
    patient.full_clean()
    patient._history_user = by
    patient.save()
    data_changed(reason=f"patient {patient.study_id} enrolled", patient_id=patient.pk)
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, by: AbstractBaseUser | None, reason: str = "",
                   **characteristics: Any) -> Patient:
    """Change baseline characteristics; the change and its reason go to the audit trail.

    Refused when the patient withdrew and asked for their data to be left out.
    """
    _check_characteristics(characteristics)
    validate_collection_open(lock_for_data_change(patient), new_data=False)
    for name, value in characteristics.items():
        setattr(patient, name, value)
    patient.full_clean(exclude=UNCHANGED_ID)
    patient._history_user = by
    patient._change_reason = reason
    patient.save()
    data_changed(reason=f"patient {patient.study_id} changed", patient_id=patient.pk)
    return patient


@transaction.atomic
def patient_withdraw(*, patient: Patient, withdrawn_on: dt.date, reason: str,
                     keep_collected_data: bool, by: AbstractBaseUser | None) -> Withdrawal:
    """Record withdrawal of consent; the patient is lost to follow-up (withdrew)."""
    lock_for_data_change(patient)
    if withdrawn_on < patient.consented_on:
        raise ValidationError({"withdrawn_on": "Withdrawal cannot be before consent."})
    withdrawal = Withdrawal(patient=patient, withdrawn_on=withdrawn_on, reason=reason,
                            keep_collected_data=keep_collected_data, recorded_by=by)
    withdrawal.full_clean()
    withdrawal._history_user = by
    withdrawal.save()
    if patient.followup_status != FollowUpStatus.COMPLETED:
        _set_followup_status(patient=patient, status=FollowUpStatus.LOST,
                             lost_reason=LostReason.WITHDREW, by=by, reason="withdrawal")
    followup_closed(patient=patient, reason=WITHDRAWN)
    data_changed(reason=f"patient {patient.study_id} withdrew", patient_id=patient.pk)
    return withdrawal


@transaction.atomic
def patient_mark_lost(*, patient: Patient, lost_reason: str, by: AbstractBaseUser | None,
                      reason: str = "") -> Patient:
    """Record loss to follow-up (did not attend, discharged or withdrew)."""
    if lost_reason not in LostReason.values:
        raise ValidationError({"lost_reason": "Choose why the patient was lost to follow-up."})
    if patient.followup_status == FollowUpStatus.COMPLETED:
        raise ValidationError("The follow-up is already complete.")
    if lock_for_data_change(patient) is not None:
        raise ValidationError("The patient withdrew consent: already lost to follow-up "
                              "(withdrew).")
    _set_followup_status(patient=patient, status=FollowUpStatus.LOST, lost_reason=lost_reason,
                         by=by, reason=reason)
    followup_closed(patient=patient, reason=LOST)
    data_changed(reason=f"patient {patient.study_id} lost to follow-up", patient_id=patient.pk)
    return patient


def _set_followup_status(*, patient: Patient, status: str, lost_reason: str,
                         by: AbstractBaseUser | None, reason: str) -> None:
    patient.followup_status = status
    patient.lost_reason = lost_reason
    patient.full_clean(exclude=UNCHANGED_ID)
    patient._history_user = by
    patient._change_reason = reason
    patient.save(update_fields=["followup_status", "lost_reason"])


def patient_mark_followup_completed(*, patient: Patient, by: AbstractBaseUser | None) -> None:
    """Called when the follow-up administration is completed."""
    if patient.followup_status != FollowUpStatus.COMPLETED:
        _set_followup_status(patient=patient, status=FollowUpStatus.COMPLETED, lost_reason="",
                             by=by, reason="follow-up completed")
        followup_closed(patient=patient, reason=COMPLETED)


def patient_access_record(*, patient: Patient, user: AbstractBaseUser, path: str
                          ) -> PatientAccessLog:
    """Log a view of the patient's record (who, when, which patient, which page).

    No full_clean(): both foreign keys come from loaded objects, and checking them would
    cost two queries on every page view.
    """
    return PatientAccessLog.objects.create(patient=patient, user=user, path=path[:300])
