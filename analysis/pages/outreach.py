"""Follow-up completion by mode and after each reminder, for the dashboard (issue 11).

Two tables, in three grouped queries whatever the cohort's size:

- by mode: completed follow-ups by who filled them in (Administration.source: keyed by a
  nurse, the patient on a clinic tablet, the patient from a link), as a share of all
  completed follow-ups and of the patients already due (follow-up window closed). As in
  the recruitment table, a follow-up counts when its patient's baseline is complete, and
  a patient is due when that baseline is dated before `due_before`;
- after each reminder: the same completed follow-ups by the last reminder sent on or
  before the day the follow-up was completed (administered_on, a local day; a reminder
  the same day counts as before: the patient completes from the link it carries), with
  how many patients were sent each reminder.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, FilteredRelation, OuterRef, Q, Subquery

from questionnaires.models import (
    Administration,
    AdministrationSource,
    AdministrationStatus,
    Timepoint,
)
from reminders.models import ReminderKind, ReminderSend, ReminderStatus

MODES = (
    (AdministrationSource.NURSE, "Keyed by a nurse (paper)"),
    (AdministrationSource.TABLET, "By the patient on a clinic tablet"),
    (AdministrationSource.LINK, "By the patient from a link"),
)
NO_REMINDER = "none"
REMINDERS = (
    (NO_REMINDER, "No reminder sent before completion"),
    (ReminderKind.WINDOW_OPEN, "Window opened"),
    (ReminderKind.WEEK_LATER, "A week later"),
    (ReminderKind.BEFORE_CLOSE, "Before the window closed"),
)


def outreach_summary(*, due_before: dt.date) -> dict[str, Any]:
    """Both tables for the dashboard (three queries)."""
    return {"by_mode": completion_by_mode(due_before=due_before),
            "by_reminder": completion_by_reminder()}


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


# --- by mode ------------------------------------------------------------------------------

def completion_by_mode(*, due_before: dt.date) -> dict[str, Any]:
    """Completed follow-ups by source, overall and among the patients already due.

    One query: the complete baselines joined to their patient's complete follow-up (one
    administration per patient and timepoint), grouped by the follow-up's source; the
    group without a follow-up carries the due patients not followed up.
    """
    followup = FilteredRelation("patient__administrations", condition=Q(
        patient__administrations__timepoint=Timepoint.FOLLOWUP,
        patient__administrations__status=AdministrationStatus.COMPLETE))
    due = Q(administered_on__lt=due_before)
    groups = {row.pop("followup_row__source"): row for row in (
        Administration.objects.filter(timepoint=Timepoint.BASELINE,
                                      status=AdministrationStatus.COMPLETE)
        .order_by().annotate(followup_row=followup).values("followup_row__source")
        .annotate(completed=Count("followup_row"), due=Count("pk", filter=due),
                  due_completed=Count("followup_row", filter=due)))}
    completed = sum(row["completed"] for row in groups.values())
    due_total = sum(row["due"] for row in groups.values())
    rows = []
    for source, label in MODES:
        row = groups.get(source, {"completed": 0, "due_completed": 0})
        rows.append({"key": source, "label": label, "completed": row["completed"],
                     "percent": _percent(row["completed"], completed),
                     "due_completed": row["due_completed"],
                     "due_percent": _percent(row["due_completed"], due_total)})
    due_completed = sum(row["due_completed"] for row in rows)
    return {"rows": rows, "completed": completed, "due": due_total,
            "due_completed": due_completed,
            "due_completed_percent": _percent(due_completed, due_total),
            "due_not_completed": due_total - due_completed,
            "due_not_completed_percent": _percent(due_total - due_completed, due_total)}


# --- after each reminder ------------------------------------------------------------------

def completion_by_reminder() -> dict[str, Any]:
    """Completed follow-ups by the last reminder sent before completion (two queries).

    The last reminder is a subquery per completed follow-up on the send log's
    (patient, kind) index, grouped in the database: no row reaches Python.
    """
    last_sent = (ReminderSend.objects
                 .filter(patient=OuterRef("patient"), status=ReminderStatus.SENT,
                         sent_at__date__lte=OuterRef("administered_on"))
                 .order_by("-sent_at", "-pk").values("kind")[:1])
    # the follow-ups completion_by_mode (and the recruitment table) count: with a complete
    # baseline (one per patient: the join adds no row)
    after = dict(Administration.objects
                 .filter(timepoint=Timepoint.FOLLOWUP, status=AdministrationStatus.COMPLETE,
                         patient__administrations__timepoint=Timepoint.BASELINE,
                         patient__administrations__status=AdministrationStatus.COMPLETE)
                 .order_by().annotate(last=Subquery(last_sent)).values("last")
                 .annotate(n=Count("pk")).values_list("last", "n"))
    sent = dict(ReminderSend.objects.filter(status=ReminderStatus.SENT).order_by()
                .values("kind").annotate(n=Count("patient", distinct=True))
                .values_list("kind", "n"))
    completed = sum(after.values())
    rows = []
    for kind, label in REMINDERS:
        n = after.get(None if kind == NO_REMINDER else kind, 0)
        patients_sent = None if kind == NO_REMINDER else sent.get(kind, 0)
        rows.append({"key": kind, "label": label, "completed": n,
                     "percent": _percent(n, completed), "sent": patients_sent,
                     "sent_percent": None if patients_sent is None
                     else _percent(n, patients_sent)})
    return {"rows": rows, "completed": completed, "any_sent": sum(sent.values()) > 0}
