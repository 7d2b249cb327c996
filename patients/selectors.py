"""Reads of patients, always scoped to what the user may see."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404

from clinics.models import Clinic
from clinics.selectors import clinics_for_user

from .models import Patient, Withdrawal
from .signoff import blocking_reasons, signed_off_note


def patients_for_user(*, user: AbstractBaseUser, clinic: Clinic | None = None
                      ) -> QuerySet[Patient]:
    """Patients of the clinics the user belongs to (all clinics for study-wide roles)."""
    patients = Patient.objects.filter(clinic__in=clinics_for_user(user=user))
    if clinic is not None:
        patients = patients.filter(clinic=clinic)
    return patients


def get_patient_for_user(*, user: AbstractBaseUser, study_id: str) -> Patient:
    """Return the patient if the user may see it; 404 otherwise (outsiders learn nothing)."""
    try:
        return patients_for_user(user=user).select_related("clinic").get(study_id=study_id)
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None


def withdrawal_or_none(patient: Patient) -> Withdrawal | None:
    """The patient's withdrawal of consent, if recorded."""
    try:
        return patient.withdrawal
    except Withdrawal.DoesNotExist:
        return None


# -- sign-off (patients.signoff) --------------------------------------------------------------

@dataclass(frozen=True)
class SignOffState:
    """A record's sign-off, for the record page, the worklist and the entry pages."""

    signed_off: bool
    signed_off_at: dt.datetime | None
    signed_off_by: str
    blockers: list[str]  # why it cannot be signed off now (empty once signed off)

    @property
    def note(self) -> str:
        return signed_off_note(self.signed_off_at) if self.signed_off_at else ""

    @property
    def can_sign_off(self) -> bool:
        return not self.signed_off and not self.blockers


def sign_off_state(patient: Patient) -> SignOffState:
    """Whether the record is signed off (by whom, when) or what stops its sign-off."""
    if patient.signed_off_at is not None:
        by = patient.signed_off_by
        return SignOffState(True, patient.signed_off_at, by.get_username() if by else "", [])
    return SignOffState(False, None, "", blocking_reasons([patient.pk]).get(patient.pk, []))


@dataclass(frozen=True)
class ClinicSignOffPreview:
    eligible: list[str]
    blocked: list[tuple[str, str]]  # (study ID, reasons)
    signed_off: int


def clinic_sign_off_preview(clinic: Clinic) -> ClinicSignOffPreview:
    """What a bulk sign-off of the clinic would do now (the service decides under lock)."""
    open_records = dict(Patient.objects.filter(clinic=clinic, signed_off_at__isnull=True)
                        .order_by("study_id").values_list("pk", "study_id"))
    reasons = blocking_reasons(open_records)
    return ClinicSignOffPreview(
        eligible=[sid for pk, sid in open_records.items() if pk not in reasons],
        blocked=[(sid, "; ".join(reasons[pk])) for pk, sid in open_records.items()
                 if pk in reasons],
        signed_off=Patient.objects.filter(clinic=clinic, signed_off_at__isnull=False).count())


def signed_off_ids(patient_ids) -> set[int]:
    """Which of the patients are signed off (one query; for worklists and record lists)."""
    return set(Patient.objects.filter(pk__in=list(patient_ids), signed_off_at__isnull=False)
               .values_list("pk", flat=True))


@dataclass(frozen=True)
class SignOffEvent:
    when: dt.datetime
    who: str
    action: str  # "signed off" or "unlocked"
    reason: str


def sign_off_events(patient: Patient) -> list[SignOffEvent]:
    """Every sign-off and unlock of the record, oldest first (for the history page)."""
    events, before = [], None
    for row in (patient.history.order_by("history_date", "history_id")
                .select_related("history_user")):
        if row.signed_off_at != before and row.history_type == "~":
            action = "signed off" if row.signed_off_at else "unlocked"
            who = row.history_user.get_username() if row.history_user else ""
            events.append(SignOffEvent(row.history_date, who, action,
                                       row.history_change_reason or ""))
        before = row.signed_off_at
    return events
