"""Queries (discrepancy notes) on a patient's data, and the messages of their thread.

A data manager raises a query on an administration (a questionnaire) or on the patient,
optionally on one field or item of it; the clinic's nurses answer (a reply, and a
correction through the entry page's usual correction path); the data manager closes it as
resolved or as explained and accepted, or re-opens it. The query row has a change history
(simple-history) and every step adds a QueryMessage (who, when, what was said): the
messages are the thread the pages show and, on PostgreSQL, refuse UPDATE and DELETE like
the other audit tables.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from patients.characteristics import CHARACTERISTIC_CODES
from patients.models import Patient
from questionnaires.instruments import ITEM_CODES, SCORE_CODES
from questionnaires.models import Administration


class QueryStatus(models.TextChoices):
    OPEN = "open", "Open: awaiting the clinic"
    ANSWERED = "answered", "Answered: awaiting the data manager"
    RESOLVED = "resolved", "Closed: resolved"
    ACCEPTED = "accepted", "Closed: explained and accepted"


CLOSED_STATUSES = (QueryStatus.RESOLVED, QueryStatus.ACCEPTED)
UNCLOSED_STATUSES = (QueryStatus.OPEN, QueryStatus.ANSWERED)


class QuerySource(models.TextChoices):
    """Where the query was raised: by hand, or from a data-quality list (its key there).
    A list's row closed as explained and accepted leaves that list."""

    MANUAL = "manual", "Raised by hand"
    MISSING_SCORES = "missing_scores", "Data quality: missing score"
    OUTSIDE_WINDOW = "outside_window", "Data quality: follow-up outside its window"
    STALE_DRAFTS = "stale_drafts", "Data quality: draft left incomplete"
    OVERDUE = "overdue", "Data quality: overdue for follow-up"


class MessageAction(models.TextChoices):
    RAISED = "raised", "Raised"
    ANSWERED = "answered", "Answered"
    RESOLVED = "resolved", "Closed as resolved"
    ACCEPTED = "accepted", "Closed as explained and accepted"
    REOPENED = "reopened", "Re-opened"


# What a query may name, read from the models' own fields (their verbose names label them).
_ADMINISTRATION_FIELDS = ("administered_on", "pih_form_version", *ITEM_CODES, *SCORE_CODES)
_PATIENT_FIELDS = ("consented_on", "consent_form_version", *CHARACTERISTIC_CODES,
                   "followup_status")


def _labelled(model, names) -> dict[str, str]:
    return {name: f"{model._meta.get_field(name).verbose_name} ({name})" for name in names}


def administration_fields() -> dict[str, str]:
    """Code -> label of the fields, items and scores a query on an administration may name."""
    return _labelled(Administration, _ADMINISTRATION_FIELDS)


def patient_fields() -> dict[str, str]:
    """Code -> label of the patient fields a query on the patient may name."""
    return _labelled(Patient, _PATIENT_FIELDS)


class Query(models.Model):
    """A question to a clinic about one patient's data (a discrepancy note)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="queries",
                                verbose_name="patient")
    administration = models.ForeignKey(
        Administration, on_delete=models.PROTECT, null=True, blank=True,
        related_name="queries", verbose_name="questionnaire",
        help_text="Empty when the query is on the patient (characteristics, follow-up).")
    item = models.CharField(
        "field or item", max_length=40, blank=True,
        help_text="The one field, item or score the query is about, if any (e.g. bpi_worst).")
    source = models.CharField("raised from", max_length=20, choices=QuerySource.choices,
                              default=QuerySource.MANUAL)
    text = models.TextField("query", help_text="The question for the clinic.")
    status = models.CharField("status", max_length=10, choices=QueryStatus.choices,
                              default=QueryStatus.OPEN)
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+", verbose_name="raised by")
    raised_at = models.DateTimeField("raised", auto_now_add=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  null=True, blank=True, related_name="+",
                                  verbose_name="closed by")
    closed_at = models.DateTimeField("closed", null=True, blank=True)
    close_reason = models.TextField(
        "reason for closing", blank=True,
        help_text="Why the data stands as it is (required when explained and accepted).")
    updated_at = models.DateTimeField("last changed", auto_now=True)
    raise_key = models.UUIDField(
        "raise form key", null=True, blank=True, unique=True, editable=False,
        help_text="One-time key of the form that raised the query, so that a repeated "
                  "submission (a double click) raises no second query.")
    history = HistoricalRecords()

    class Meta:
        verbose_name = "query"
        verbose_name_plural = "queries"
        ordering = ["-raised_at", "-pk"]
        indexes = [models.Index(fields=["status", "patient"]),
                   models.Index(fields=["source", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=QueryStatus.values),
                                   name="query_status_valid"),
            models.CheckConstraint(condition=Q(source__in=QuerySource.values),
                                   name="query_source_valid"),
            models.CheckConstraint(condition=~Q(text=""), name="query_text_given"),
            # Closed <=> who and when are recorded; accepted <=> a reason is kept.
            models.CheckConstraint(
                condition=(Q(status__in=CLOSED_STATUSES) & Q(closed_at__isnull=False)
                           & Q(closed_by__isnull=False))
                | (Q(status__in=UNCLOSED_STATUSES) & Q(closed_at__isnull=True)
                   & Q(closed_by__isnull=True)),
                name="query_closed_iff_closed_at"),
            models.CheckConstraint(condition=~Q(status=QueryStatus.ACCEPTED) | ~Q(close_reason=""),
                                   name="query_accepted_has_reason"),
        ]

    def __str__(self) -> str:
        return f"Query {self.pk} on {self.patient}"

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def target_label(self) -> str:
        """What the query is on: "Baseline", "Patient", and the field if one is named."""
        where = self.administration.get_timepoint_display() if self.administration else "Patient"
        fields = administration_fields() if self.administration else patient_fields()
        return f"{where}: {fields.get(self.item, self.item)}" if self.item else where


class QueryMessage(models.Model):
    """One step of a query's thread: raised, answered, closed or re-opened, by whom, when.
    Rows are only ever added (on PostgreSQL the table refuses UPDATE and DELETE)."""

    query = models.ForeignKey(Query, on_delete=models.PROTECT, related_name="messages",
                              verbose_name="query")
    action = models.CharField("action", max_length=10, choices=MessageAction.choices)
    text = models.TextField("message", blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                           related_name="+", verbose_name="by")
    at = models.DateTimeField("when", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "query message"
        ordering = ["at", "pk"]
        constraints = [models.CheckConstraint(condition=Q(action__in=MessageAction.values),
                                              name="querymessage_action_valid")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.by} at {self.at:%Y-%m-%d %H:%M}"
