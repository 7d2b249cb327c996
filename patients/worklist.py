"""The clinic worklist: every patient with a status a nurse can act on.

Status rules (first rule that matches wins; days count from the baseline questionnaire's
date, window and due day from settings FOLLOWUP_WINDOW_START_DAYS / _END_DAYS /
FOLLOWUP_DUE_DAYS, by default 76, 120 and 90):

| status          | when                                                                  |
|-----------------|-----------------------------------------------------------------------|
| withdrawn       | consent was withdrawn (whatever else is recorded): no further entry   |
| completed       | the follow-up questionnaire is complete                               |
| lost            | recorded as lost to follow-up (did not attend, discharged)            |
| baseline        | no completed baseline questionnaire yet (none, or a draft)            |
| not_yet_due     | today is more than DUE_SOON_DAYS (14) before the window opens         |
| due_soon        | the window opens within the next DUE_SOON_DAYS days (day 62-75)       |
| due             | the window is open and the due day has not passed (day 76-90)         |
| overdue         | past the due day, window still open (day 91-120)                      |
| window_missed   | the window has closed (day 121 on) without a completed follow-up      |

Both ends of the window are inside it (day 76 and day 120 are in the window). A follow-up
draft does not change the status: the follow-up is not done until it is complete.

The rules and rows are here, twice: worklist_status is the readable specification (one
patient in Python: the record page, data quality), worklist_status_sql the same rules as a
SQL CASE over a patient queryset, so that the worklist counts, filters, orders and pages in
the database (tests/test_worklist_sql.py pins them equal). The clinic's worklist is read by
questionnaires.worklist: it supplies the administrations (an app above this one) under the
names the CASE reads, ROW_INPUTS.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from django.conf import settings
from django.db.models import Case, CharField, IntegerField, Q, Value, When

from .models import FollowUpStatus
from .validators import withdrawn_note

DUE_SOON_DAYS = 14


@dataclass(frozen=True)
class Status:
    code: str
    label: str
    # Bootstrap-free CSS modifier: paincohort.css gives each a high-contrast badge.
    tone: str


STATUSES: tuple[Status, ...] = (
    Status("baseline", "Baseline to enter", "action"),
    Status("due_soon", "Follow-up due soon", "soon"),
    Status("due", "Follow-up due", "action"),
    Status("overdue", "Overdue", "urgent"),
    Status("window_missed", "Window missed", "urgent"),
    Status("not_yet_due", "Follow-up not yet due", "quiet"),
    Status("completed", "Completed", "done"),
    Status("withdrawn", "Withdrawn", "quiet"),
    Status("lost", "Lost to follow-up", "quiet"),
)
STATUS_BY_CODE: dict[str, Status] = {status.code: status for status in STATUSES}
# From the worklist a follow-up can be keyed from two weeks before its window opens; outside
# the window the entry page asks for confirmation. Earlier, only from the patient's page.
FOLLOWUP_ACTIONABLE = frozenset({"due_soon", "due", "overdue", "window_missed"})
# The worklist's default order, by what needs doing first: overdue, due, due soon, then
# the rest still open, and the patients with nothing more to collect last.
URGENCY: dict[str, int] = {code: rank for rank, code in enumerate((
    "overdue", "due", "due_soon", "window_missed", "baseline", "not_yet_due",
    "completed", "lost", "withdrawn"))}


@dataclass(frozen=True)
class FollowUpDates:
    window_start: dt.date
    due_on: dt.date
    window_end: dt.date


def followup_dates(baseline_on: dt.date) -> FollowUpDates:
    """Window and due day of the follow-up for a baseline dated baseline_on."""
    return FollowUpDates(
        window_start=baseline_on + dt.timedelta(days=settings.FOLLOWUP_WINDOW_START_DAYS),
        due_on=baseline_on + dt.timedelta(days=settings.FOLLOWUP_DUE_DAYS),
        window_end=baseline_on + dt.timedelta(days=settings.FOLLOWUP_WINDOW_END_DAYS),
    )


def worklist_status(*, today: dt.date, withdrawn: bool, followup_status: str,
                    baseline_on: dt.date | None, baseline_complete: bool,
                    followup_complete: bool) -> str:
    """The status code of one patient (rules in the module docstring)."""
    if withdrawn:
        return "withdrawn"
    if followup_complete or followup_status == FollowUpStatus.COMPLETED:
        return "completed"
    if followup_status == FollowUpStatus.LOST:
        return "lost"
    if baseline_on is None or not baseline_complete:
        return "baseline"
    dates = followup_dates(baseline_on)
    if today < dates.window_start - dt.timedelta(days=DUE_SOON_DAYS):
        return "not_yet_due"
    if today < dates.window_start:
        return "due_soon"
    if today <= dates.due_on:
        return "due"
    if today <= dates.window_end:
        return "overdue"
    return "window_missed"


# --- the same rules in SQL ---------------------------------------------------------------
# The annotations the CASE reads besides the patient's own fields: the baseline's date and
# state, the follow-up's state (NULL when there is none), as questionnaires.worklist names
# them. "complete" is AdministrationStatus.COMPLETE, which this lower app cannot import.
BASELINE_ON, BASELINE_STATE, FOLLOWUP_STATE = "baseline_on", "baseline_state", "followup_state"
WITHDRAWN_ON = "withdrawal__withdrawn_on"
COMPLETE = "complete"


def _sql_rules(today: dt.date) -> list[tuple[Q, str]]:
    """worklist_status's rules in its order, as (condition, code); no rule: "baseline".

    The day rules compare the baseline date with constant dates computed here from today
    (today < baseline + k days  <=>  baseline > today - k days), so no database date
    arithmetic is needed and SQLite and PostgreSQL agree."""
    def days_before_today(days: int) -> dt.date:
        return today - dt.timedelta(days=days)

    start = settings.FOLLOWUP_WINDOW_START_DAYS
    return [
        (Q(**{f"{WITHDRAWN_ON}__isnull": False}), "withdrawn"),
        (Q(**{FOLLOWUP_STATE: COMPLETE}) | Q(followup_status=FollowUpStatus.COMPLETED),
         "completed"),
        (Q(followup_status=FollowUpStatus.LOST), "lost"),
        # isnull spelt out: NOT (NULL = 'complete') is NULL in SQL, not true
        (Q(**{f"{BASELINE_STATE}__isnull": True}) | ~Q(**{BASELINE_STATE: COMPLETE}),
         "baseline"),
        (Q(**{f"{BASELINE_ON}__gt": days_before_today(start - DUE_SOON_DAYS)}), "not_yet_due"),
        (Q(**{f"{BASELINE_ON}__gt": days_before_today(start)}), "due_soon"),
        (Q(**{f"{BASELINE_ON}__gte": days_before_today(settings.FOLLOWUP_DUE_DAYS)}), "due"),
        (Q(**{f"{BASELINE_ON}__gte": days_before_today(settings.FOLLOWUP_WINDOW_END_DAYS)}),
         "overdue"),
    ]


def worklist_status_sql(today: dt.date) -> Case:
    """worklist_status as a CASE over a patient queryset annotated with ROW_INPUTS."""
    return Case(*(When(condition, then=Value(code)) for condition, code in _sql_rules(today)),
                default=Value("window_missed"), output_field=CharField())


def worklist_urgency_sql(today: dt.date) -> Case:
    """The status's URGENCY rank as a CASE: the default order without a second CASE."""
    return Case(*(When(condition, then=Value(URGENCY[code]))
                  for condition, code in _sql_rules(today)),
                default=Value(URGENCY["window_missed"]), output_field=IntegerField())


@dataclass(slots=True)
class WorklistRow:
    """One patient on the worklist. The display texts are computed only for the rows of
    the page shown, not for every patient counted."""

    study_id: str
    baseline_on: dt.date | None
    baseline_complete: bool
    followup_draft: bool
    status: Status
    entry_timepoint: str  # the questionnaire to enter next from the worklist, or ""

    @property
    def dates(self) -> FollowUpDates | None:
        if self.baseline_on is None or not self.baseline_complete:
            return None
        return followup_dates(self.baseline_on)

    @property
    def baseline_text(self) -> str:
        if self.baseline_on is None:
            return "—"
        return _day(self.baseline_on) + ("" if self.baseline_complete else " (draft)")

    @property
    def due_text(self) -> str:
        dates = self.dates
        return _day(dates.due_on) if dates else "—"

    @property
    def window_text(self) -> str:
        dates = self.dates
        if dates is None:
            return "—"
        return f"{_day(dates.window_start, year=False)} – {_day(dates.window_end)}"


def _entry_timepoint(code: str) -> str:
    if code == "baseline":
        return "baseline"
    return "followup" if code in FOLLOWUP_ACTIONABLE else ""


def _day(day: dt.date, *, year: bool = True) -> str:
    return f"{day.day} {day:%b %Y}" if year else f"{day.day} {day:%b}"


# What a row is built from: the CASE's inputs, the study ID and the status the CASE gave
# (annotated as STATUS). A new column adds its annotation here and a field to WorklistRow.
STATUS = "worklist_status"
ROW_INPUTS = ("study_id", BASELINE_ON, BASELINE_STATE, FOLLOWUP_STATE, WITHDRAWN_ON, STATUS)


def worklist_row(values: dict) -> WorklistRow:
    """One patient's row from the ROW_INPUTS values of the page's query."""
    code = values[STATUS]
    return WorklistRow(
        study_id=values["study_id"], baseline_on=values[BASELINE_ON],
        baseline_complete=values[BASELINE_STATE] == COMPLETE,
        followup_draft=values[FOLLOWUP_STATE] == "draft",
        status=_status(code, values[WITHDRAWN_ON]), entry_timepoint=_entry_timepoint(code))


def _status(code: str, withdrawn_on: dt.date | None) -> Status:
    """The row's status; a withdrawn patient's badge says when and that collection ended."""
    if code == "withdrawn":
        return replace(STATUS_BY_CODE[code], label=withdrawn_note(withdrawn_on))
    return STATUS_BY_CODE[code]


__all__ = ["DUE_SOON_DAYS", "ROW_INPUTS", "STATUS", "STATUSES", "URGENCY", "followup_dates",
           "worklist_row", "worklist_status", "worklist_status_sql", "worklist_urgency_sql"]
