"""Invitations to patients to complete their own questionnaire.

One row per hand-over: a clinic tablet put in patient mode by a nurse (channel "tablet"),
or a one-time link for the three-month follow-up (channel "link"). The patient's answers
are kept here page by page (`draft`), so that a closed browser or a timed-out tablet
resumes where it stopped; the submission becomes an Administration (source tablet/link).

A link's token and short code are stored as SHA-256 hashes (the lookup) and encrypted
with core.crypto (so that a reminder can send the same link again); neither is stored in
clear text.
"""
from django.conf import settings
from django.db import models

from patients.models import Patient
from questionnaires.models import Administration, Timepoint


class InvitationChannel(models.TextChoices):
    TABLET = "tablet", "Clinic tablet"
    LINK = "link", "One-time link"


class Invitation(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="invitations",
                                verbose_name="patient")
    timepoint = models.CharField("timepoint", max_length=10, choices=Timepoint.choices)
    channel = models.CharField("channel", max_length=10, choices=InvitationChannel.choices)
    created_at = models.DateTimeField("issued", auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+",
                                   verbose_name="issued by")
    valid_from = models.DateField("valid from")
    valid_until = models.DateField("valid until")
    opened_at = models.DateTimeField("first opened", null=True, blank=True)
    submitted_at = models.DateTimeField("submitted", null=True, blank=True)
    revoked_at = models.DateTimeField("withdrawn", null=True, blank=True)
    administration = models.ForeignKey(Administration, on_delete=models.SET_NULL, null=True,
                                       blank=True, related_name="invitations",
                                       verbose_name="administration")
    # Links only (null for a tablet hand-over).
    token_hash = models.CharField("token hash", max_length=64, unique=True, null=True,
                                  blank=True, editable=False)
    token_encrypted = models.TextField("token (encrypted)", blank=True, editable=False)
    code_hash = models.CharField("short code hash", max_length=64, unique=True, null=True,
                                 blank=True, editable=False)
    code_encrypted = models.TextField("short code (encrypted)", blank=True, editable=False)
    # Item code -> answer (an int, or "skip" for "prefer not to answer"), saved per page.
    draft = models.JSONField("answers so far", default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["patient", "channel", "timepoint"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(valid_from__lte=models.F("valid_until")),
                                   name="invitation_valid_from_before_until"),
            models.CheckConstraint(
                condition=models.Q(channel=InvitationChannel.TABLET)
                | models.Q(token_hash__isnull=False, code_hash__isnull=False),
                name="invitation_link_has_token"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} for {self.patient} ({self.timepoint})"


class LookupFailure(models.Model):
    """A failed link or code lookup, kept only while the cache is unavailable: the guess
    limit (selfcompletion/ratelimit.py) counts here then, so an outage neither lets guessing
    through nor turns patients away. Rows older than the window are deleted as new ones
    come in."""

    address = models.CharField("client address", max_length=64)
    at = models.DateTimeField("failed at", auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["address", "at"])]

    def __str__(self) -> str:
        return f"{self.address} at {self.at:%Y-%m-%d %H:%M:%S}"
