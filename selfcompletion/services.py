"""Writes of self-completion: issuing links, tablet hand-overs, saving and submitting.

The patient's answers reach the research data only through
questionnaires.services.administration_save (source "tablet" or "link"), so every rule of
data entry (ranges, dates, withdrawal) holds for them too; a nurse then confirms them
(questionnaires.services.administration_confirm).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from core.crypto import decrypt, encrypt
from patients.models import FollowUpStatus, Patient
from patients.services import lock_for_data_change
from patients.validators import validate_collection_open
from patients.worklist import followup_dates
from questionnaires.models import Administration, AdministrationStatus, Timepoint
from questionnaires.services import administration_save

from . import selectors
from .models import Invitation, InvitationChannel
from .parts import draft_answers, draft_missing_reasons
from .tokens import digest, new_code, new_token


class InvitationClosed(Exception):
    """The invitation can no longer take answers; `state` says why (selectors' states)."""

    def __init__(self, state: str):
        self.state = state
        super().__init__(f"The invitation is closed ({state}).")


def link_path(token: str) -> str:
    return reverse("selfcompletion:link", kwargs={"token": token})


def link_token(invitation: Invitation) -> str:
    """The raw token of a link invitation, decrypted (for the card and reminders)."""
    return decrypt(invitation.token_encrypted)


def link_code(invitation: Invitation) -> str:
    return decrypt(invitation.code_encrypted)


def _completed(patient: Patient, timepoint: str) -> bool:
    return Administration.objects.filter(patient=patient, timepoint=timepoint,
                                         status=AdministrationStatus.COMPLETE).exists()


def _followup_window(patient: Patient) -> tuple[dt.date, dt.date]:
    baseline = Administration.objects.filter(patient=patient, timepoint=Timepoint.BASELINE,
                                             status=AdministrationStatus.COMPLETE).first()
    if baseline is None:
        raise ValidationError("Complete the baseline questionnaire first: the follow-up "
                              "window counts from its date.")
    dates = followup_dates(baseline.administered_on)
    return dates.window_start, dates.window_end


@transaction.atomic
def followup_link_ensure(*, patient: Patient, by: AbstractBaseUser | None = None
                         ) -> tuple[Invitation, str]:
    """The patient's usable follow-up link and its URL path, issued now if there is none.

    Valid only inside the follow-up window. Refused (ValidationError) for a withdrawn
    patient, a completed follow-up, a missing baseline or a window already closed.
    """
    # The patient row lock: two nurses (or a nurse and the reminder task) get one link.
    validate_collection_open(lock_for_data_change(patient), new_data=True)
    if patient.followup_status == FollowUpStatus.COMPLETED or \
            _completed(patient, Timepoint.FOLLOWUP):
        raise ValidationError("The follow-up questionnaire is already complete.")
    start, end = _followup_window(patient)
    today = timezone.localdate()
    if today > end:
        raise ValidationError(f"The follow-up window closed on {end:%d %b %Y}.")
    existing = selectors.usable_followup_link(patient, today=today)
    if existing is not None:
        return existing, link_path(link_token(existing))
    token, code = new_token(), new_code()
    invitation = Invitation.objects.create(
        patient=patient, timepoint=Timepoint.FOLLOWUP, channel=InvitationChannel.LINK,
        created_by=by, valid_from=start, valid_until=end,
        token_hash=digest(token), token_encrypted=encrypt(token),
        code_hash=digest(code), code_encrypted=encrypt(code))
    return invitation, link_path(token)


@transaction.atomic
def tablet_handover_start(*, patient: Patient, timepoint: str,
                          by: AbstractBaseUser) -> Invitation:
    """A nurse hands the clinic tablet to the patient for this questionnaire.

    Today's unfinished hand-over for the same questionnaire is resumed, not restarted.
    """
    if timepoint not in Timepoint.values:
        raise ValidationError(f"Unknown timepoint '{timepoint}'.")
    validate_collection_open(lock_for_data_change(patient), new_data=True)
    if _completed(patient, timepoint):
        raise ValidationError("This questionnaire is already complete.")
    if timepoint == Timepoint.FOLLOWUP:
        _followup_window(patient)  # the baseline must be complete
    today = timezone.localdate()
    existing = selectors.open_tablet_invitation(patient, timepoint, today=today)
    if existing is not None:
        return existing
    return Invitation.objects.create(patient=patient, timepoint=timepoint,
                                     channel=InvitationChannel.TABLET, created_by=by,
                                     valid_from=today, valid_until=today)


def _locked_open(invitation: Invitation) -> Invitation:
    """The invitation's row, locked, if it can still take answers (else InvitationClosed)."""
    locked = Invitation.objects.select_for_update(of=("self",)).select_related("patient").get(
        pk=invitation.pk)
    state = selectors.link_state(locked, today=timezone.localdate())
    if state != selectors.USABLE:
        raise InvitationClosed(state)
    return locked


def invitation_opened(invitation: Invitation) -> None:
    """The patient opened the invitation (first time only is recorded)."""
    if invitation.opened_at is None:
        invitation.opened_at = timezone.now()
        Invitation.objects.filter(pk=invitation.pk, opened_at__isnull=True).update(
            opened_at=invitation.opened_at)


@transaction.atomic
def invitation_draft_save(*, invitation: Invitation, answers: Mapping[str, object]
                          ) -> Invitation:
    """Keep one page's answers on the server (a closed browser resumes from here)."""
    locked = _locked_open(invitation)
    locked.draft = {**locked.draft, **answers}
    if locked.opened_at is None:
        locked.opened_at = timezone.now()
    locked.save(update_fields=["draft", "opened_at"])
    return locked


@transaction.atomic
def invitation_submit(*, invitation: Invitation, by: AbstractBaseUser | None = None
                      ) -> Administration:
    """Store the patient's answers as an administration, once.

    The invitation row is locked: of two devices submitting the same link together, the
    second waits here and then finds the invitation used (InvitationClosed("used")).
    A sent questionnaire is complete, as a handed-in paper form is: an item left blank or
    declined ("prefer not to answer") is stored empty with its reason, and the scores
    follow the instruments' missing-item rules. (Storing it as a draft lost it: the link
    is used up, so the patient could never finish it, and drafts are neither exported nor
    counted.)
    """
    locked = _locked_open(invitation)
    if not locked.draft:
        raise ValidationError("Answer at least one question before sending.")
    existing = Administration.objects.filter(patient=locked.patient,
                                             timepoint=locked.timepoint).first()
    channel = InvitationChannel(locked.channel)
    administration = administration_save(
        patient=locked.patient, timepoint=locked.timepoint,
        administered_on=timezone.localdate(), answers=draft_answers(locked.draft), by=by,
        complete=True, missing_reasons=draft_missing_reasons(locked.draft),
        base_version=existing.version if existing else None,
        reason=f"completed by the patient ({channel.label.lower()})", source=channel.value)
    locked.submitted_at = timezone.now()
    locked.administration = administration
    locked.save(update_fields=["submitted_at", "administration"])
    return administration


def erase_link_drafts(patient: Patient | int) -> int:
    """A withdrawn patient's unsent answers are erased and their open invitations revoked.

    A draft is never research data (only a sent questionnaire is), so after a withdrawal
    nothing keeps it, whatever the patient chose for the data already collected. Does
    nothing for a patient who has not withdrawn. One UPDATE; returns the rows changed.
    `patient`: the patient or its primary key (the pk is accepted too).
    """
    patient_id = patient.pk if isinstance(patient, Patient) else patient
    return (Invitation.objects
            .filter(patient_id=patient_id, patient__withdrawal__isnull=False,
                    submitted_at__isnull=True)
            .filter(~Q(draft={}) | Q(revoked_at__isnull=True))
            .update(draft={}, revoked_at=Coalesce("revoked_at", timezone.now())))
