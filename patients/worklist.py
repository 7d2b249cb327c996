"""The clinic worklist: every patient with a status a nurse can act on.

Status rules (first rule that matches wins; days count from the baseline questionnaire's
date, window and due day from settings FOLLOWUP_WINDOW_START_DAYS / _END_DAYS /
FOLLOWUP_DUE_DAYS, by default 76, 120 and 90):

| status          | when                                                                  |
|-----------------|-----------------------------------------------------------------------|
| withdrawn       | consent was withdrawn (whatever else is recorded)                     |
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

Everything is computed from one query (patients annotated with their administrations'
dates and statuses), so the page costs the same number of queries for 5 or 5,000 patients.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db.models import OuterRef, QuerySet, Subquery

from clinics.models import Clinic

from .models import FollowUpStatus, Patient

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


@dataclass(frozen=True)
class WorklistRow:
    study_id: str
    consented_on: dt.date
    baseline_on: dt.date | None
    baseline_complete: bool
    followup_on: dt.date | None
    followup_draft: bool
    dates: FollowUpDates | None
    status: Status
    # Pre-formatted here, once: date filters on a thousand rows dominated the page's time.
    baseline_text: str
    due_text: str
    window_text: str
    entry_timepoint: str  # the questionnaire to enter next from the worklist, or ""


@dataclass(frozen=True)
class Worklist:
    clinic: Clinic
    rows: list[WorklistRow]
    counts: dict[str, int]
    total: int


def _annotated_patients(clinic: Clinic) -> QuerySet[Patient]:
    # Imported here: questionnaires depends on patients, not the other way round.
    from questionnaires.models import Administration

    def admin_value(timepoint: str, field: str) -> Subquery:
        return Subquery(Administration.objects.filter(
            patient=OuterRef("pk"), timepoint=timepoint).values(field)[:1])

    return (Patient.objects.filter(clinic=clinic)
            .annotate(baseline_on=admin_value("baseline", "administered_on"),
                      baseline_state=admin_value("baseline", "status"),
                      followup_on=admin_value("followup", "administered_on"),
                      followup_state=admin_value("followup", "status"),
                      withdrawal_pk=Subquery(_withdrawal_pk()))
            .order_by("study_id")
            .values("study_id", "consented_on", "followup_status", "baseline_on",
                    "baseline_state", "followup_on", "followup_state", "withdrawal_pk"))


def _withdrawal_pk():
    from .models import Withdrawal
    return Withdrawal.objects.filter(patient=OuterRef("pk")).values("pk")[:1]


def _entry_timepoint(code: str) -> str:
    if code == "baseline":
        return "baseline"
    return "followup" if code in FOLLOWUP_ACTIONABLE else ""


def _day(day: dt.date, *, year: bool = True) -> str:
    return f"{day.day} {day:%b %Y}" if year else f"{day.day} {day:%b}"


def _row(values: dict, today: dt.date) -> WorklistRow:
    baseline_on = values["baseline_on"]
    baseline_complete = values["baseline_state"] == "complete"
    dates = followup_dates(baseline_on) if baseline_on and baseline_complete else None
    code = worklist_status(
        today=today, withdrawn=values["withdrawal_pk"] is not None,
        followup_status=values["followup_status"], baseline_on=baseline_on,
        baseline_complete=baseline_complete,
        followup_complete=values["followup_state"] == "complete")
    return WorklistRow(
        study_id=values["study_id"], consented_on=values["consented_on"],
        baseline_on=baseline_on, baseline_complete=baseline_complete,
        followup_on=values["followup_on"], followup_draft=values["followup_state"] == "draft",
        dates=dates, status=STATUS_BY_CODE[code], entry_timepoint=_entry_timepoint(code),
        baseline_text=(_day(baseline_on) + ("" if baseline_complete else " (draft)")
                       if baseline_on else "—"),
        due_text=_day(dates.due_on) if dates else "—",
        window_text=(f"{_day(dates.window_start, year=False)} – {_day(dates.window_end)}"
                     if dates else "—"))


def clinic_worklist(*, clinic: Clinic, today: dt.date | None = None, status: str = "",
                    search: str = "") -> Worklist:
    """The clinic's worklist, filtered by status and study ID; counts cover the whole clinic.

    One query, whatever the number of patients.
    """
    today = today or dt.date.today()
    rows = [_row(values, today) for values in _annotated_patients(clinic)]
    counts = Counter(row.status.code for row in rows)
    total = len(rows)
    if status in STATUS_BY_CODE:
        rows = [row for row in rows if row.status.code == status]
    needle = search.strip().upper()
    if needle:
        rows = [row for row in rows if needle in row.study_id.upper()]
    return Worklist(clinic=clinic, rows=rows,
                    counts={s.code: counts.get(s.code, 0) for s in STATUSES}, total=total)


__all__ = ["DUE_SOON_DAYS", "STATUSES", "clinic_worklist", "followup_dates",
           "worklist_status"]
