"""Writes to the records researchers and data managers keep: study target, interviews.

(Reads are analysis/selectors.py; model runs and refits are analysis/runs/; export logging
is analysis/exports/log.py.)
"""
from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from patients.models import FollowUpStatus, Patient

from .models import InterviewContact, StudyTarget


@transaction.atomic
def study_target_update(*, standardised_difference: float, power: float, alpha: float,
                        by: AbstractBaseUser, reason: str,
                        headline_inference: str | None = None) -> StudyTarget:
    """Change the power calculation's inputs (and, if given, Table 2's headline inference);
    the old values stay in the audit trail."""
    if not reason.strip():
        raise ValidationError({"reason": "Give a reason for changing the study target."})
    target = StudyTarget.objects.select_for_update().order_by("pk").first() or StudyTarget()
    target.standardised_difference = standardised_difference
    target.power = power
    target.alpha = alpha
    if headline_inference is not None:
        target.headline_inference = headline_inference
    target.full_clean()
    target._history_user = by
    target._change_reason = reason.strip()[:100]
    target.save()
    return target


@transaction.atomic
def interview_contact_save(*, patient: Patient, status: str, by: AbstractBaseUser,
                           invited_on: dt.date | None = None,
                           interviewed_on: dt.date | None = None,
                           duration_minutes: int | None = None, place: str = "",
                           notes: str = "") -> InterviewContact:
    """Record or update a completer's invitation, interview or refusal (one per patient).

    Only completers are eligible, as in the study; a repeated identical submission
    changes nothing.
    """
    if patient.followup_status != FollowUpStatus.COMPLETED:
        raise ValidationError({"study_id": f"{patient.study_id} has not completed the "
                                           "follow-up: only completers are eligible."})
    if interviewed_on and interviewed_on > timezone.localdate():
        raise ValidationError({"interviewed_on": "The interview date cannot be in the future."})
    # Lock the patient: a double submission waits here instead of inserting twice.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    contact = (InterviewContact.objects.select_for_update().filter(patient=patient).first()
               or InterviewContact(patient=patient))
    contact.status = status
    contact.invited_on = invited_on or contact.invited_on
    contact.interviewed_on = interviewed_on
    contact.duration_minutes = duration_minutes
    contact.place = place.strip()
    contact.notes = notes.strip()
    contact.recorded_by = by
    contact.full_clean()
    contact._history_user = by
    contact.save()
    return contact
