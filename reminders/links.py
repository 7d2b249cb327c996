"""The follow-up link and its stop page, from the self-completion app.

The patient's link (selfcompletion.services.followup_link_ensure) carries the token that
the stop page (reminders:stop) takes too, so every email can say how to stop the emails.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.urls import resolve, reverse

from patients.models import Patient
from selfcompletion.selectors import invitation_by_token
from selfcompletion.services import followup_link_ensure


@dataclass(frozen=True)
class ReminderLinks:
    questionnaire: str  # absolute URL of the patient's follow-up link
    stop: str  # absolute URL of the page that stops the reminders


def absolute_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def reminder_links(patient: Patient) -> ReminderLinks:
    """The patient's usable follow-up link (issued now if none) and the stop page for it.

    Raises ValidationError when no link may be issued (withdrawn or completed patient).
    """
    _invitation, path = followup_link_ensure(patient=patient)
    token = resolve(path).kwargs["token"]
    return ReminderLinks(questionnaire=absolute_url(path),
                         stop=absolute_url(reverse("reminders:stop", kwargs={"token": token})))


def patient_id_by_token(token: str) -> int | None:
    """The patient of the invitation with this token, or None (unknown or tampered)."""
    invitation = invitation_by_token(token)
    return invitation.patient_id if invitation is not None else None
