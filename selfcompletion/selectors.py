"""Reads of invitations: lookup by link token or short code, and what a link may do now."""
from __future__ import annotations

import datetime as dt

from patients.models import FollowUpStatus
from patients.selectors import withdrawal_or_none
from questionnaires.models import Administration, AdministrationStatus, Timepoint

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
