"""Writes to patients: enrolment with consent, withdrawal, loss to follow-up."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from clinics.models import Clinic
from core.signals import COMPLETED, LOST, WITHDRAWN, data_changed, followup_closed

from .characteristics import CHARACTERISTIC_CODES
from .models import FollowUpStatus, LostReason, Patient, PatientAccessLog, Withdrawal
from .signoff import blocking_reasons, refuse_signed_off
from .validators import validate_collection_open

# The study-ID rule is checked when an ID is given (enrolment); a patient imported before
# the rule existed must still be correctable and followed up under the ID it has.
UNCHANGED_ID = ["study_id"]


def _check_characteristics(characteristics: dict[str, Any]) -> None:
    unknown = set(characteristics) - set(CHARACTERISTIC_CODES)
    if unknown:
        raise TypeError(f"Unknown patient characteristics: {', '.join(sorted(unknown))}")


def lock_for_data_change(patient: Patient, *, signed_off_ok: bool = False
                         ) -> Withdrawal | None:
    """Lock the patient's row and return their withdrawal, if any.

    Every write to a patient's data takes this lock (data entry, corrections, withdrawal),
    so a save and a withdrawal recorded at the same moment queue: the save either lands
    before the withdrawal or sees it and is refused. Sign-off takes the same lock, so a
    write refused here for a signed-off record (ValidationError, code "signed_off") reads
    the sign-off state after any sign-off in progress has committed. signed_off_ok: the
    write is allowed on a signed-off record (withdrawal of consent only).
    """
    # One query: the locked row and its withdrawal (a LEFT JOIN; `of` locks the patient row
    # only, as PostgreSQL refuses FOR UPDATE on the nullable side of an outer join).
    locked = (Patient.objects.select_for_update(of=("self",)).select_related("withdrawal")
              .filter(pk=patient.pk).first())
    if locked is None:
        # Callers rely on the row existing (their saves skip the foreign-key re-check).
        raise ValidationError({"patient": f"Patient {patient.study_id} no longer exists."})
    patient.signed_off_at = locked.signed_off_at  # the caller's copy may predate the sign-off
    if not signed_off_ok:
        refuse_signed_off(patient.study_id, locked.signed_off_at)
    try:
        return locked.withdrawal
    except Withdrawal.DoesNotExist:
        return None


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
    """Record withdrawal of consent; the patient is lost to follow-up (withdrew).

    Allowed on a signed-off record: withdrawing consent is the patient's right at any
    time and cannot wait for an unlock. The record stays signed off.
    """
    lock_for_data_change(patient, signed_off_ok=True)
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


# -- sign-off and unlock (patients.signoff) ---------------------------------------------------

@dataclass(frozen=True)
class ClinicSignOff:
    """What a clinic's bulk sign-off did: records signed off, and those skipped with why."""

    signed_off: list[str]
    skipped: list[tuple[str, str]]  # (study ID, reasons)
    already: int  # records signed off before


def _sign_off_blocked(study_id: str, reasons: list[str]) -> ValidationError:
    return ValidationError(f"{study_id} cannot be signed off: {'; '.join(reasons)}.",
                           code="sign_off_blocked")


@transaction.atomic
def record_sign_off(*, patient: Patient, by: AbstractBaseUser) -> Patient:
    """Sign the patient's record off: from now on it refuses every change but withdrawal.

    Takes the patient's row lock, as every save does, so a save at the same moment either
    commits first (and its draft or unverified form then blocks the sign-off) or waits and
    is refused. Signing off a signed-off record changes nothing.
    """
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    if locked.signed_off_at is not None:
        return locked
    reasons = blocking_reasons([locked.pk]).get(locked.pk)
    if reasons:
        raise _sign_off_blocked(locked.study_id, reasons)
    locked.signed_off_at, locked.signed_off_by = timezone.now(), by
    locked._history_user, locked._change_reason = by, "record signed off"
    locked.save(update_fields=["signed_off_at", "signed_off_by"])
    return locked


@transaction.atomic
def record_unlock(*, patient: Patient, by: AbstractBaseUser, reason: str) -> Patient:
    """Open a signed-off record again; the reason goes to the audit trail."""
    if not reason.strip():
        raise ValidationError({"reason": "Give the reason for unlocking the record."})
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    if locked.signed_off_at is None:
        raise ValidationError(f"{locked.study_id} is not signed off: there is nothing to "
                              "unlock.")
    locked.signed_off_at, locked.signed_off_by = None, None
    locked._history_user, locked._change_reason = by, f"record unlocked: {reason.strip()}"
    locked.save(update_fields=["signed_off_at", "signed_off_by"])
    return locked


@transaction.atomic
def clinic_sign_off(*, clinic: Clinic, by: AbstractBaseUser) -> ClinicSignOff:
    """Sign off every record of the clinic that can be; say which were skipped and why.

    The open records are locked (in id order, as one save locks one of them), checked
    once by every blocker and signed off together, each with its history row.
    """
    open_records = list(Patient.objects.select_for_update()
                        .filter(clinic=clinic, signed_off_at__isnull=True).order_by("pk"))
    reasons = blocking_reasons(patient.pk for patient in open_records)
    now = timezone.now()
    eligible = [patient for patient in open_records if patient.pk not in reasons]
    for patient in eligible:
        patient.signed_off_at, patient.signed_off_by = now, by
        patient._history_user = by
    bulk_update_with_history(eligible, Patient, ["signed_off_at", "signed_off_by"],
                             default_user=by, default_change_reason="record signed off "
                                                                    "(clinic sign-off)")
    return ClinicSignOff(
        signed_off=sorted(patient.study_id for patient in eligible),
        skipped=sorted((patient.study_id, "; ".join(reasons[patient.pk]))
                       for patient in open_records if patient.pk in reasons),
        already=Patient.objects.filter(clinic=clinic).count() - len(open_records))
