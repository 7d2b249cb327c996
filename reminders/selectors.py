"""Reads of reminder contacts and sends. The address is for the patient's clinic's nurses
only: not researchers, statisticians or data managers (they never need it to do their
work; a data manager erases every address at study end without reading one)."""
from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest

from clinics.models import Clinic, Role
from patients.access import patient_for_request
from patients.models import FollowUpStatus, Patient
from questionnaires.models import Administration, AdministrationStatus, Timepoint

from .models import ReminderContact, ReminderSend


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
