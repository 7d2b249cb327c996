"""Writes: record, stop and erase reminder addresses; send the reminders that are due.

Sending is safe to repeat: each (patient, reminder) has one ReminderSend row, claimed under
a row lock before the email goes, so a repeated or concurrent run sends nothing twice. A
failing email backend marks the row failed; the next runs retry it, up to MAX_ATTEMPTS.
"""
from __future__ import annotations

import datetime as dt
import logging

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from core.crypto import encrypt
from patients.models import FollowUpStatus, Patient
from patients.services import lock_for_data_change
from patients.worklist import followup_dates

from .links import ReminderLinks, patient_id_by_token, reminder_links
from .models import MAX_ATTEMPTS, ReminderContact, ReminderSend, ReminderStatus
from .schedule import reminder_due
from .selectors import baseline_dates, contacts_to_remind, follow_up_closed

logger = logging.getLogger(__name__)

ERASED = {"email_encrypted": ""}


# -- the address ------------------------------------------------------------------------------

@transaction.atomic
def contact_record(*, patient: Patient, email: str, consented_on: dt.date,
                   by: AbstractBaseUser | None) -> ReminderContact:
    """Store (or replace) the patient's reminder address, encrypted."""
    if lock_for_data_change(patient) is not None:
        raise ValidationError("The patient withdrew consent: no reminders.")
    if patient.followup_status == FollowUpStatus.COMPLETED:
        raise ValidationError("The follow-up is complete: no reminders are needed.")
    contact, _ = ReminderContact.objects.update_or_create(patient=patient, defaults={
        "email_encrypted": encrypt(BaseUserManager.normalize_email(email.strip())),
        "consented_on": consented_on, "recorded_by": by, "stopped_at": None,
        "erased_at": None})
    return contact


def contact_erase(*, patient: Patient) -> bool:
    """Empty the patient's address (a nurse removes it). True if there was one."""
    return bool(ReminderContact.objects.filter(patient=patient, erased_at__isnull=True)
                .update(**ERASED, erased_at=timezone.now()))


def reminders_stop(*, token: str) -> None:
    """The patient stops the reminders from their link: the address is erased too (it
    served nothing else). An unknown token changes nothing and says nothing."""
    patient_id = patient_id_by_token(token)
    if patient_id is None:
        return
    now = timezone.now()
    ReminderContact.objects.filter(patient_id=patient_id, stopped_at__isnull=True).update(
        **ERASED, stopped_at=now, erased_at=now)


def contacts_erase_closed(*, patient_id: int | None = None) -> int:
    """Erase the addresses of withdrawn patients and of completed follow-ups (of one
    patient, or of everyone: the send task's sweep catches bulk changes such as imports)."""
    contacts = ReminderContact.objects.filter(erased_at__isnull=True)
    if patient_id is not None:
        contacts = contacts.filter(patient_id=patient_id)
    return contacts.filter(follow_up_closed()).update(**ERASED, erased_at=timezone.now())


def contacts_erase_all() -> int:
    """Erase every address still held (the data manager's command at study end)."""
    return (ReminderContact.objects.filter(erased_at__isnull=True)
            .update(**ERASED, erased_at=timezone.now()))


# -- sending ----------------------------------------------------------------------------------

def reminders_send_due() -> dict[str, int]:
    """Erase the addresses no longer needed, then send every reminder due today.

    Returns how many sends ended in each status this run (for the task's log).
    """
    counts = {"erased": contacts_erase_closed()}
    today = timezone.localdate()
    contacts = list(contacts_to_remind())
    baselines = baseline_dates([contact.patient_id for contact in contacts])
    for contact in contacts:
        baseline_on = baselines.get(contact.patient_id)
        kind = reminder_due(baseline_on=baseline_on, today=today) if baseline_on else None
        if kind is None:
            continue
        try:
            status = reminder_send(contact=contact, kind=kind, baseline_on=baseline_on)
        except Exception:  # one patient's unexpected error must not stop the others' sends
            logger.exception("Reminder %s to patient %s not attempted", kind, contact.patient_id)
            status = "error"
        if status:
            counts[status] = counts.get(status, 0) + 1
    return counts


@transaction.atomic
def reminder_send(*, contact: ReminderContact, kind: str, baseline_on: dt.date) -> str | None:
    """Send one reminder unless it was sent, skipped or tried MAX_ATTEMPTS times.

    Returns the status this attempt left, or None when nothing was attempted.
    """
    send, _ = ReminderSend.objects.select_for_update().get_or_create(
        patient=contact.patient, kind=kind, defaults={"status": ReminderStatus.FAILED})
    if not send.will_retry:
        return None
    send.attempts += 1
    send.last_attempt_at = timezone.now()
    try:
        with transaction.atomic():  # a refused link rolls back only its own writes
            links = reminder_links(contact.patient)
    except ValidationError as error:
        _finish(send, ReminderStatus.SKIPPED, error="; ".join(error.messages))
        return send.status
    address = contact.email
    try:
        _message(address=address, kind=kind, links=links, baseline_on=baseline_on).send()
    except Exception as error:  # noqa: BLE001 - any backend failure is retried, never raised
        _finish(send, ReminderStatus.FAILED, error=_describe(error, address))
        logger.warning("Reminder %s to patient %s failed (attempt %s of %s): %s", kind,
                       contact.patient_id, send.attempts, MAX_ATTEMPTS, send.error)
    else:
        _finish(send, ReminderStatus.SENT, error="", sent_at=send.last_attempt_at)
    return send.status


def _finish(send: ReminderSend, status: str, **fields) -> None:
    send.status = status
    for name, value in fields.items():
        setattr(send, name, value)
    send.save()


def _describe(error: Exception, address: str) -> str:
    """The failure for the log, without the address (SMTP errors often quote it)."""
    text = f"{type(error).__name__}: {error}"
    return text.replace(address, "[address]")[:500] if address else text[:500]


def _message(*, address: str, kind: str, links: ReminderLinks,
             baseline_on: dt.date) -> EmailMessage:
    context = {"kind": kind, "links": links,
               "window_end": followup_dates(baseline_on).window_end}
    subject = render_to_string("reminders/email_subject.txt", context).strip()
    body = render_to_string("reminders/email_body.txt", context)
    return EmailMessage(subject=subject, body=body, to=[address])
