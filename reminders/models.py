"""Reminder email addresses, held apart from the research data, and the log of sends.

The address is a personal contact detail, not research data: it is stored encrypted
(core.crypto) in its own table, has no change history (simple-history rows cannot be
deleted, and the address must be erasable), is never exported or analysed, and is
erased (emptied, erased_at set) once it is no longer needed.
"""
from django.conf import settings
from django.db import models

from core.crypto import decrypt
from patients.models import Patient

# The beat task runs hourly: a day of retries covers an email provider's usual outage.
MAX_ATTEMPTS = 24


class ReminderKind(models.TextChoices):
    WINDOW_OPEN = "window_open", "Window opens"
    WEEK_LATER = "week_later", "A week later"
    BEFORE_CLOSE = "before_close", "Before the window closes"


class ReminderStatus(models.TextChoices):
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class ReminderContact(models.Model):
    """A patient's email address for follow-up reminders, given with their agreement."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE,
                                   related_name="reminder_contact", verbose_name="patient")
    email_encrypted = models.TextField(
        "email address (encrypted)", blank=True,
        help_text="Fernet token under DATA_ENCRYPTION_KEY; empty once erased.")
    consented_on = models.DateField("agreed to reminders on",
                                    help_text="When the patient agreed to email reminders.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                    null=True, related_name="+", verbose_name="recorded by")
    recorded_at = models.DateTimeField("recorded", auto_now=True)
    stopped_at = models.DateTimeField("stopped by the patient", null=True, blank=True)
    erased_at = models.DateTimeField(
        "address erased", null=True, blank=True,
        help_text="Set when the address was emptied: follow-up completed, withdrawal, "
                  "stopped, removed by a nurse or erased at study end.")

    class Meta:
        verbose_name = "reminder contact"

    def __str__(self) -> str:
        # Never the address: this text may reach logs and error pages.
        return f"Reminder contact of {self.patient_id}"

    @property
    def email(self) -> str:
        """The address in clear, or "" once erased."""
        return decrypt(self.email_encrypted) if self.email_encrypted else ""

    @property
    def active(self) -> bool:
        return bool(self.email_encrypted) and self.erased_at is None and self.stopped_at is None


class ReminderSend(models.Model):
    """One reminder of one kind to one patient: sent once, or retried until it is."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE,
                                related_name="reminder_sends", verbose_name="patient")
    kind = models.CharField("reminder", max_length=20, choices=ReminderKind.choices)
    status = models.CharField("status", max_length=10, choices=ReminderStatus.choices)
    attempts = models.PositiveSmallIntegerField("attempts", default=0)
    created_at = models.DateTimeField("first attempt", auto_now_add=True)
    last_attempt_at = models.DateTimeField("last attempt", null=True, blank=True)
    sent_at = models.DateTimeField("sent", null=True, blank=True)
    error = models.TextField("error", blank=True,
                             help_text="The last failure, with the address left out.")

    class Meta:
        ordering = ["patient", "created_at"]
        constraints = [
            # a repeated or concurrent run of the beat task sends nothing twice
            models.UniqueConstraint(fields=["patient", "kind"], name="one_reminder_per_kind"),
            models.CheckConstraint(condition=models.Q(status__in=ReminderStatus.values),
                                   name="reminder_send_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} reminder to {self.patient_id}: {self.status}"

    @property
    def will_retry(self) -> bool:
        return self.status == ReminderStatus.FAILED and self.attempts < MAX_ATTEMPTS
