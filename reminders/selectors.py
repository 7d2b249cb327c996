"""Reads of reminder contacts and sends. The address is for the patient's clinic's nurses
only: not researchers, statisticians or data managers (they never need it to do their
work; a data manager erases every address at study end without reading one)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest

from clinics.models import Clinic, Role
from patients.access import patient_for_request
from patients.models import FollowUpStatus, Patient
from questionnaires.models import Administration, AdministrationStatus, Timepoint
from selfcompletion.selectors import short_day

from .models import MAX_ATTEMPTS, ReminderContact, ReminderKind, ReminderSend, ReminderStatus

REMINDER_NAMES = {ReminderKind.WINDOW_OPEN: "window opened",
                  ReminderKind.WEEK_LATER: "a week later",
                  ReminderKind.BEFORE_CLOSE: "before the window closes"}


def is_clinic_nurse(*, user: AbstractBaseUser, clinic: Clinic) -> bool:
    """Whether the user is a nurse at this clinic (the only ones who see the address)."""
    return user.is_authenticated and user.memberships.filter(clinic=clinic,
                                                             role=Role.NURSE).exists()


def patient_for_clinic_nurse(request: HttpRequest, study_id: str) -> Patient:
    """The patient, for a nurse of its clinic; 404 for everyone else (they learn nothing)."""
    patient = patient_for_request(request, study_id)
    if not is_clinic_nurse(user=request.user, clinic=patient.clinic):
        raise Http404("No such patient.")
    return patient


def contact_or_none(patient: Patient) -> ReminderContact | None:
    return ReminderContact.objects.filter(patient=patient).first()


def sends_for_patient(patient: Patient) -> QuerySet[ReminderSend]:
    return ReminderSend.objects.filter(patient=patient).order_by("created_at")


def reminder_panel(*, user: AbstractBaseUser, patient: Patient, closed: bool) -> dict:
    """The reminders panel of the patient record: shown to the clinic's nurses only (the
    address is theirs alone); `closed` (withdrawn, or the follow-up done) offers no change.
    One query for anyone else, three for a nurse of the clinic."""
    if not is_clinic_nurse(user=user, clinic=patient.clinic):
        return {"shown": False}
    return {"shown": True, "contact": contact_or_none(patient),
            "sends": list(sends_for_patient(patient)), "closed": closed}


def follow_up_closed() -> Q:
    """Patients (seen from a contact) for whom no reminder is wanted any more: withdrawn,
    or the follow-up complete (marked so, or a complete follow-up administration)."""
    complete_followup = Administration.objects.filter(
        patient=OuterRef("patient"), timepoint=Timepoint.FOLLOWUP,
        status=AdministrationStatus.COMPLETE)
    return (Q(patient__withdrawal__isnull=False)
            | Q(patient__followup_status=FollowUpStatus.COMPLETED)
            | Q(Exists(complete_followup)))


def contacts_to_remind() -> QuerySet[ReminderContact]:
    """Contacts that may still get reminders: an address held, not stopped, not closed."""
    return (ReminderContact.objects.filter(erased_at__isnull=True, stopped_at__isnull=True)
            .exclude(email_encrypted="").exclude(follow_up_closed())
            .select_related("patient"))


def baseline_dates(patient_ids: list[int]) -> dict[int, dt.date]:
    """The date of each patient's complete baseline (patients without one are left out)."""
    return dict(Administration.objects.filter(
        patient_id__in=patient_ids, timepoint=Timepoint.BASELINE,
        status=AdministrationStatus.COMPLETE).values_list("patient_id", "administered_on"))


# --- the worklist's reminders column --------------------------------------------------------

@dataclass(frozen=True)
class ReminderState:
    """A patient's latest reminder outcome, or the state of their address, in words."""

    text: str                  # e.g. "Reminder sent 12 Mar (a week later)"
    failed: bool


def reminder_states(study_ids: Iterable[str]) -> dict[str, ReminderState]:
    """Study ID -> the latest reminder sent or failed, or the address's state (patients
    with nothing to say are left out). Two queries whatever the number of patients."""
    study_ids = list(study_ids)
    if not study_ids:
        return {}
    contacts = {contact["patient__study_id"]: contact for contact in (
        ReminderContact.objects.filter(patient__study_id__in=study_ids).order_by()
        .annotate(held=ExpressionWrapper(~Q(email_encrypted=""), output_field=BooleanField()))
        .values("patient__study_id", "held", "stopped_at", "erased_at"))}
    latest: dict[str, dict] = {}
    for send in (ReminderSend.objects.filter(patient__study_id__in=study_ids)
                 .exclude(status=ReminderStatus.SKIPPED).order_by("created_at", "pk")
                 .values("patient__study_id", "kind", "status", "attempts", "sent_at",
                         "last_attempt_at", "created_at")):
        latest[send["patient__study_id"]] = send   # oldest first: the last one stays
    states = {}
    for study_id in study_ids:
        state = _reminder_state(latest.get(study_id), contacts.get(study_id))
        if state.text:
            states[study_id] = state
    return states


def _reminder_state(send: dict | None, contact: dict | None) -> ReminderState:
    """The patient's stop comes first, then the latest send's outcome."""
    if contact is not None and contact["stopped_at"] is not None:
        return ReminderState(
            f"Reminders stopped by the patient {short_day(contact['stopped_at'])}", False)
    if send is not None:
        name = REMINDER_NAMES.get(send["kind"], send["kind"])
        if send["status"] == ReminderStatus.SENT:
            return ReminderState(f"Reminder sent {short_day(send['sent_at'])} ({name})", False)
        if send["attempts"] < MAX_ATTEMPTS:   # ReminderSend.will_retry
            return ReminderState(f"Reminder failed, will retry ({name}, {_tries(send)})", True)
        return ReminderState(f"Reminders failed: not sent after {_tries(send)} ({name})", True)
    if contact is not None and contact["held"] and contact["erased_at"] is None:
        return ReminderState("Email reminders on, none sent yet", False)
    return ReminderState("", False)


def _tries(send: dict) -> str:
    attempts = send["attempts"]
    return f"{attempts} attempt{'' if attempts == 1 else 's'}"
