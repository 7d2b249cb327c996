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

from django.db.models import Count, Exists, F, FilteredRelation, OuterRef, Q
from django.utils import timezone

from questionnaires.models import (
    Administration,
    AdministrationSource,
    AdministrationStatus,
    Timepoint,
)
from reminders.models import ReminderKind, ReminderSend, ReminderStatus

from .live_counts import recent

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


# The counts take about 0.3 s at national scale: reused until the data changes, and at most
# this long, since the hourly reminder sends move them without a data change.
OUTREACH_CACHE_SECONDS = 300


def outreach_summary(*, due_before: dt.date) -> dict[str, Any]:
    """Both tables for the dashboard (three queries) and when they were counted."""
    by_mode = completion_by_mode(due_before=due_before)
    return {"by_mode": by_mode,
            "by_reminder": completion_by_reminder(completed=by_mode["completed"]),
            "counted_at": timezone.now()}


def outreach_summary_recent(*, due_before: dt.date) -> dict[str, Any]:
    """The summary, counted since the last data change and in the last 5 minutes."""
    return recent(f"outreach:{due_before.isoformat()}",
                  lambda: outreach_summary(due_before=due_before), max_age=OUTREACH_CACHE_SECONDS)


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _complete_followup() -> FilteredRelation:
    """The patient's complete follow-up (at most one: one administration per timepoint)."""
    return FilteredRelation("patient__administrations", condition=Q(
        patient__administrations__timepoint=Timepoint.FOLLOWUP,
        patient__administrations__status=AdministrationStatus.COMPLETE))


# --- by mode ------------------------------------------------------------------------------

def completion_by_mode(*, due_before: dt.date) -> dict[str, Any]:
    """Completed follow-ups by source, overall and among the patients already due.

    One query: the complete baselines joined to their patient's complete follow-up (one
    administration per patient and timepoint), grouped by the follow-up's source; the
    group without a follow-up carries the due patients not followed up.
    """
    due = Q(administered_on__lt=due_before)
    groups = {row.pop("followup_row__source"): row for row in (
        Administration.objects.filter(timepoint=Timepoint.BASELINE,
                                      status=AdministrationStatus.COMPLETE)
        .order_by().annotate(followup_row=_complete_followup()).values("followup_row__source")
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

def completion_by_reminder(*, completed: int) -> dict[str, Any]:
    """Completed follow-ups by the last reminder sent before completion (two queries).

    `completed` is completion_by_mode's count of the same follow-ups: those without a
    reminder before completion are the rest.
    """
    last = _last_reminder_counts()
    sent = dict(ReminderSend.objects.filter(status=ReminderStatus.SENT).order_by()
                # one send per patient and kind (one_reminder_per_kind): rows are patients
                .values("kind").annotate(n=Count("pk"))
                .values_list("kind", "n"))
    rows = []
    for kind, label in REMINDERS:
        n = completed - sum(last.values()) if kind == NO_REMINDER else last.get(kind, 0)
        patients_sent = None if kind == NO_REMINDER else sent.get(kind, 0)
        rows.append({"key": kind, "label": label, "completed": n,
                     "percent": _percent(n, completed), "sent": patients_sent,
                     "sent_percent": None if patients_sent is None
                     else _percent(n, patients_sent)})
    return {"rows": rows, "completed": completed, "any_sent": sum(sent.values()) > 0}


def _last_reminder_counts() -> dict[str, int]:
    """Reminder kind -> completed follow-ups (complete baseline) it was the last before.

    A send is the patient's last before completion when no other send of theirs is later
    (or as late and logged after it) and still on or before that day: an anti-join, which
    the database runs as hash joins over the send log (a subquery per follow-up took
    0.8 s at 100,000 patients on PostgreSQL).
    """
    baseline = Administration.objects.filter(
        patient=OuterRef("patient"), timepoint=Timepoint.BASELINE,
        status=AdministrationStatus.COMPLETE)
    later = ReminderSend.objects.filter(
        Q(sent_at__gt=OuterRef("sent_at")) | Q(sent_at=OuterRef("sent_at"), pk__gt=OuterRef("pk")),
        patient=OuterRef("patient"), status=ReminderStatus.SENT,
        sent_at__date__lte=OuterRef("done_on"))
    return dict(ReminderSend.objects.filter(status=ReminderStatus.SENT).order_by()
                # an alias, not a path, in the subquery: else the follow-up is joined twice
                .alias(followup=_complete_followup(), done_on=F("followup__administered_on"))
                .filter(sent_at__date__lte=F("done_on"))
                .filter(Exists(baseline), ~Exists(later))
                .values("kind").annotate(n=Count("pk")).values_list("kind", "n"))
