"""The worklist's self-completion and reminders column.

The worklist is drawn by questionnaires, two layers below the invitations and reminders, so
its view cannot read them: this tag library, in the top app that knows both, reads them for
the whole page of rows at once, in three queries whatever the number of rows:

    {% load outreach %}{% outreach_for page.object_list as outreach %}
    {% with state=outreach|get:row.study_id %}...{% endwith %}

Rows are matched by study ID (unique), so the worklist rows need no database key.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django import template
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from questionnaires.models import AdministrationSource, AdministrationStatus, Timepoint
from selfcompletion.models import Invitation, InvitationChannel

from ..models import MAX_ATTEMPTS, ReminderContact, ReminderKind, ReminderSend, ReminderStatus

register = template.Library()

REMINDER_NAMES = {ReminderKind.WINDOW_OPEN: "window opened",
                  ReminderKind.WEEK_LATER: "a week later",
                  ReminderKind.BEFORE_CLOSE: "before the window closes"}


@dataclass(frozen=True)
class Outreach:
    """What a nurse needs to know about one patient's self-completion and reminders."""

    invitation: str = ""       # e.g. "Link: opened 5 Mar"
    awaiting_check: bool = False
    reminder: str = ""         # e.g. "Reminder sent 12 Mar (a week later)"
    reminder_failed: bool = False


@register.simple_tag
def outreach_for(rows: Iterable) -> dict[str, Outreach]:
    """Study ID -> Outreach for the worklist rows given (patients with nothing: left out)."""
    study_ids = [row.study_id for row in rows]
    if not study_ids:
        return {}
    invitations = _invitation_texts(study_ids)
    reminders = _reminder_texts(study_ids)
    result = {}
    for study_id in study_ids:
        invitation, awaiting = invitations.get(study_id, ("", False))
        reminder, failed = reminders.get(study_id, ("", False))
        if invitation or reminder:
            result[study_id] = Outreach(invitation=invitation, awaiting_check=awaiting,
                                        reminder=reminder, reminder_failed=failed)
    return result


@register.filter
def get(mapping: dict, key):
    """mapping[key], or None: `outreach|get:row.study_id`."""
    return mapping.get(key) if mapping else None


# --- invitations ----------------------------------------------------------------------------

def _invitation_texts(study_ids: list[str]) -> dict[str, tuple[str, bool]]:
    """Per patient, the invitation a nurse should see and whether it awaits their check.

    One query: every invitation of these patients with its administration's check state.
    A patient-completed questionnaire still to check wins over a later invitation (a
    baseline on the tablet unchecked, then a follow-up link issued); otherwise the latest.
    """
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
    return {study_id: (_invitation_text(invitation, today), _awaits_check(invitation))
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
        text = f"{done} {_day(invitation['submitted_at'])}{_blanks(invitation)}"
        checked_at = invitation["administration__checked_at"]
        return f"{text}, checked {_day(checked_at)}" if checked_at else text
    if invitation["revoked_at"] is not None:
        return f"withdrawn {_day(invitation['revoked_at'])}"
    if invitation["valid_until"] < today:
        return f"expired {_day(invitation['valid_until'])}, not completed"
    if invitation["opened_at"] is not None:
        return f"opened {_day(invitation['opened_at'])}, not sent yet"
    return f"issued {_day(invitation['created_at'])}, not opened yet"


def _blanks(invitation: dict) -> str:
    """A sent questionnaire is complete with its skipped items recorded: say how many, so
    the nurse's check looks at them."""
    skipped = len(invitation["administration__missing_reasons"] or {})
    if not skipped:
        return ""
    return f" ({skipped} item{'s' if skipped != 1 else ''} left unanswered)"


# --- reminders ------------------------------------------------------------------------------

def _reminder_texts(study_ids: list[str]) -> dict[str, tuple[str, bool]]:
    """Per patient, the latest reminder sent or failed, or the address's state. Two queries."""
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
    texts = {}
    for study_id in study_ids:
        text = _reminder_text(latest.get(study_id), contacts.get(study_id))
        if text[0]:
            texts[study_id] = text
    return texts


def _reminder_text(send: dict | None, contact: dict | None) -> tuple[str, bool]:
    """(text, failed): the patient's stop comes first, then the latest send's outcome."""
    if contact is not None and contact["stopped_at"] is not None:
        return f"Reminders stopped by the patient {_day(contact['stopped_at'])}", False
    if send is not None:
        name = REMINDER_NAMES.get(send["kind"], send["kind"])
        if send["status"] == ReminderStatus.SENT:
            return f"Reminder sent {_day(send['sent_at'])} ({name})", False
        if send["attempts"] < MAX_ATTEMPTS:   # ReminderSend.will_retry
            return f"Reminder failed, will retry ({name}, {_tries(send)})", True
        return f"Reminders failed: not sent after {_tries(send)} ({name})", True
    if contact is not None and contact["held"] and contact["erased_at"] is None:
        return "Email reminders on, none sent yet", False
    return "", False


def _tries(send: dict) -> str:
    attempts = send["attempts"]
    return f"{attempts} attempt{'' if attempts == 1 else 's'}"


def _day(moment: dt.datetime | dt.date) -> str:
    """"5 Mar": the worklist's dates (patients.worklist), local time for a moment."""
    day = timezone.localdate(moment) if isinstance(moment, dt.datetime) else moment
    return f"{day.day} {day:%b}"
