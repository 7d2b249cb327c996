"""Reads of invitations: lookup by link token or short code, what a link may do now, and
each patient's invitation in words for the clinic worklist."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from patients.models import FollowUpStatus
from patients.selectors import withdrawal_or_none
from questionnaires.models import (
    Administration,
    AdministrationSource,
    AdministrationStatus,
    Timepoint,
)

from .models import Invitation, InvitationChannel
from .tokens import CODE_ALPHABET, CODE_LENGTH, MAX_TOKEN_LENGTH, digest, normalise_code

# What a link can do (link_state): only USABLE opens the questionnaire.
USABLE = "usable"
NOT_YET_OPEN = "not_yet_open"
EXPIRED = "expired"
USED = "used"
NOT_NEEDED = "not_needed"  # withdrawn, the follow-up done another way, or the link revoked


def invitation_by_token(token: str) -> Invitation | None:
    """The link invitation whose token this is (by its hash), or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return (Invitation.objects.select_related("patient")
            .filter(token_hash=digest(token), channel=InvitationChannel.LINK).first())


def invitation_by_code(typed: str) -> Invitation | None:
    """The link invitation whose short code the patient typed, or None."""
    code = normalise_code(typed)
    if len(code) != CODE_LENGTH or set(code) - set(CODE_ALPHABET):
        return None
    return (Invitation.objects.select_related("patient")
            .filter(code_hash=digest(code), channel=InvitationChannel.LINK).first())


def questionnaire_still_needed(invitation: Invitation) -> bool:
    """No withdrawal, no revocation, and the timepoint not completed some other way."""
    patient = invitation.patient
    if invitation.revoked_at is not None or withdrawal_or_none(patient) is not None:
        return False
    if invitation.timepoint == Timepoint.FOLLOWUP and \
            patient.followup_status == FollowUpStatus.COMPLETED:
        return False
    return not Administration.objects.filter(
        patient=patient, timepoint=invitation.timepoint,
        status=AdministrationStatus.COMPLETE).exists()


def link_state(invitation: Invitation, *, today: dt.date) -> str:
    if invitation.submitted_at is not None:
        return USED
    if not questionnaire_still_needed(invitation):
        return NOT_NEEDED
    if today < invitation.valid_from:
        return NOT_YET_OPEN
    if today > invitation.valid_until:
        return EXPIRED
    return USABLE


def usable_followup_link(patient, *, today: dt.date) -> Invitation | None:
    """The patient's follow-up link that can still be used, if any."""
    return (Invitation.objects.filter(
        patient=patient, channel=InvitationChannel.LINK, timepoint=Timepoint.FOLLOWUP,
        submitted_at__isnull=True, revoked_at__isnull=True, valid_until__gte=today)
        .order_by("-created_at").first())


def open_tablet_invitation(patient, timepoint: str, *, today: dt.date) -> Invitation | None:
    """Today's unfinished tablet hand-over for this questionnaire (to resume it)."""
    return (Invitation.objects.filter(
        patient=patient, channel=InvitationChannel.TABLET, timepoint=timepoint,
        submitted_at__isnull=True, revoked_at__isnull=True, valid_until__gte=today)
        .order_by("-created_at").first())


def latest_followup_link(patient) -> Invitation | None:
    """The most recent follow-up link (for the patient record), whatever its state."""
    return (Invitation.objects.filter(patient=patient, channel=InvitationChannel.LINK,
                                      timepoint=Timepoint.FOLLOWUP)
            .order_by("-created_at").first())


# --- the worklist's self-completion column --------------------------------------------------

@dataclass(frozen=True)
class InvitationState:
    """The invitation a nurse should see for a patient, in words."""

    text: str                  # e.g. "Link: opened 5 Mar, not sent yet"
    awaiting_check: bool       # the patient's answers are in and no nurse has checked them


def invitation_states(study_ids: Iterable[str]) -> dict[str, InvitationState]:
    """Study ID -> the invitation to show (patients without one are left out). One query:
    every invitation of these patients with its administration's check state.

    A patient-completed questionnaire still to check wins over a later invitation (a
    baseline on the tablet unchecked, then a follow-up link issued); otherwise the latest.
    """
    study_ids = list(study_ids)
    if not study_ids:
        return {}
    values = (Invitation.objects.filter(patient__study_id__in=study_ids)
              .order_by("created_at", "pk")
              .values("patient__study_id", "channel", "timepoint", "created_at", "opened_at",
                      "submitted_at", "revoked_at", "valid_until", "administration__status",
                      "administration__missing_reasons",
                      "administration__source", "administration__checked_at"))
    chosen: dict[str, dict] = {}
    for invitation in values:   # oldest first: a later one replaces an earlier one
        study_id = invitation["patient__study_id"]
        if _awaits_check(chosen.get(study_id)) and not _awaits_check(invitation):
            continue
        chosen[study_id] = invitation
    today = timezone.localdate()
    return {study_id: InvitationState(text=_invitation_text(invitation, today),
                                      awaiting_check=_awaits_check(invitation))
            for study_id, invitation in chosen.items()}


def _awaits_check(invitation: dict | None) -> bool:
    """Submitted by the patient and not yet confirmed by a nurse (Administration.awaits_check)."""
    return (invitation is not None and invitation["submitted_at"] is not None
            and invitation["administration__source"] not in (None, AdministrationSource.NURSE)
            and invitation["administration__checked_at"] is None)


def _invitation_text(invitation: dict, today: dt.date) -> str:
    return f"{_channel(invitation)}: {_stage(invitation, today)}"


def _channel(invitation: dict) -> str:
    if invitation["channel"] == InvitationChannel.LINK:
        return "Link"
    timepoint = "baseline" if invitation["timepoint"] == Timepoint.BASELINE else "follow-up"
    return f"Tablet ({timepoint})"


def _stage(invitation: dict, today: dt.date) -> str:
    """The furthest step reached: issued, opened, completed by the patient, checked."""
    if invitation["submitted_at"] is not None:
        done = ("completed by the patient"
                if invitation["administration__status"] == AdministrationStatus.COMPLETE
                else "sent part-answered by the patient")
        text = f"{done} {short_day(invitation['submitted_at'])}{_blanks(invitation)}"
        checked_at = invitation["administration__checked_at"]
        return f"{text}, checked {short_day(checked_at)}" if checked_at else text
    if invitation["revoked_at"] is not None:
        return f"withdrawn {short_day(invitation['revoked_at'])}"
    if invitation["valid_until"] < today:
        return f"expired {short_day(invitation['valid_until'])}, not completed"
    if invitation["opened_at"] is not None:
        return f"opened {short_day(invitation['opened_at'])}, not sent yet"
    return f"issued {short_day(invitation['created_at'])}, not opened yet"


def _blanks(invitation: dict) -> str:
    """A sent questionnaire is complete with its skipped items recorded: say how many, so
    the nurse's check looks at them."""
    skipped = len(invitation["administration__missing_reasons"] or {})
    if not skipped:
        return ""
    return f" ({skipped} item{'s' if skipped != 1 else ''} left unanswered)"


def short_day(moment: dt.datetime | dt.date) -> str:
    """"5 Mar": the worklist's dates (patients.worklist), local time for a moment; the
    reminders column (reminders.selectors) writes its dates the same way."""
    day = timezone.localdate(moment) if isinstance(moment, dt.datetime) else moment
    return f"{day.day} {day:%b}"
