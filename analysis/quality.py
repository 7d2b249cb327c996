"""Data-quality lists for data managers: what to chase, fix or explain.

1. complete administrations with a missing score, and why (the scoring module says why);
2. follow-ups dated outside their window (days from the baseline questionnaire);
3. drafts left incomplete for more than DRAFT_STALE_DAYS days since their last change;
4. patients overdue for follow-up: the worklist's "overdue" and "window missed" statuses,
   across every clinic.

Each list is one query whatever the cohort's size, and is capped at LIST_LIMIT rows on
the page (the count is exact).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from patients.models import Patient, Withdrawal
from patients.worklist import STATUS_BY_CODE, followup_dates, worklist_status
from questionnaires.instruments import SCORE_CODES
from questionnaires.models import Administration, AdministrationStatus, PihFormVersion, Timepoint
from questionnaires.scoring import score_all

DRAFT_STALE_DAYS = 7
LIST_LIMIT = 200


@dataclass
class QualityList:
    key: str
    title: str
    explanation: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    count: int = 0

    @property
    def truncated(self) -> bool:
        return self.count > len(self.rows)


def _keep():
    # Patients whose withdrawal removes their data are out of every list, as of the analysis.
    return ~Q(patient__withdrawal__keep_collected_data=False)


def missing_scores() -> QualityList:
    missing = Q()
    for code in SCORE_CODES:
        missing |= Q(**{f"{code}__isnull": True})
    administrations = (Administration.objects.filter(missing, _keep(),
                                                     status=AdministrationStatus.COMPLETE)
                       .select_related("patient__clinic")
                       .order_by("patient__study_id", "timepoint"))
    result = QualityList(
        "missing_scores", "Complete questionnaires with a missing score",
        "A score is missing when too few of its items were answered (rules in the codebook).",
        ["Study ID", "Clinic", "Timepoint", "Date", "Why"])
    rows = list(administrations[:LIST_LIMIT + 1])
    for admin in rows[:LIST_LIMIT]:
        reasons = [r.reason for r in score_all(
            admin.answers, pih_reversed=admin.pih_form_version == PihFormVersion.REVERSED
        ).values() if r.is_missing]
        result.rows.append([admin.patient.study_id, admin.patient.clinic.code,
                            admin.get_timepoint_display(), admin.administered_on,
                            "; ".join(reasons)])
    result.count = len(rows) if len(rows) <= LIST_LIMIT else administrations.count()
    return result


def followups_outside_window() -> QualityList:
    baseline_on = Subquery(Administration.objects.filter(
        patient=OuterRef("patient"), timepoint=Timepoint.BASELINE).values("administered_on")[:1])
    followups = (Administration.objects.filter(_keep(), timepoint=Timepoint.FOLLOWUP)
                 .annotate(baseline_on=baseline_on)
                 .order_by("patient__study_id")
                 .values_list("patient__study_id", "patient__clinic__code", "baseline_on",
                              "administered_on", "status"))
    start, end = settings.FOLLOWUP_WINDOW_START_DAYS, settings.FOLLOWUP_WINDOW_END_DAYS
    result = QualityList(
        "outside_window", "Follow-ups dated outside their window",
        f"The follow-up window is day {start} to day {end} after the baseline questionnaire "
        "(both ends inside).",
        ["Study ID", "Clinic", "Baseline", "Follow-up", "Day", "Status"])
    # Dates are compared in Python: date arithmetic in SQL differs between SQLite and
    # PostgreSQL, and two dates per follow-up are cheap to read.
    for study_id, clinic, baseline, followup, status in followups.iterator(chunk_size=5000):
        if baseline is None:
            continue
        day = (followup - baseline).days
        if start <= day <= end:
            continue
        result.count += 1
        if len(result.rows) < LIST_LIMIT:
            result.rows.append([study_id, clinic, baseline, followup, day, status])
    return result


def stale_drafts(*, now: dt.datetime | None = None) -> QualityList:
    cutoff = (now or timezone.now()) - dt.timedelta(days=DRAFT_STALE_DAYS)
    drafts = (Administration.objects.filter(_keep(), status=AdministrationStatus.DRAFT,
                                            updated_at__lt=cutoff)
              .order_by("updated_at")
              .values_list("patient__study_id", "patient__clinic__code", "timepoint",
                           "administered_on", "updated_at"))
    result = QualityList(
        "stale_drafts", f"Drafts left incomplete for more than {DRAFT_STALE_DAYS} days",
        "Drafts are not analysed or exported until they are completed.",
        ["Study ID", "Clinic", "Timepoint", "Date", "Last changed"])
    rows = list(drafts[:LIST_LIMIT + 1])
    labels = dict(Timepoint.choices)
    result.rows = [[s, c, labels.get(t, t), d, u] for s, c, t, d, u in rows[:LIST_LIMIT]]
    result.count = len(rows) if len(rows) <= LIST_LIMIT else drafts.count()
    return result


def overdue_followups(*, today: dt.date | None = None) -> QualityList:
    today = today or dt.date.today()

    def admin_value(timepoint: str, name: str) -> Subquery:
        return Subquery(Administration.objects.filter(
            patient=OuterRef("pk"), timepoint=timepoint).values(name)[:1])

    patients = (Patient.objects
                .filter(followup_status="active")
                .annotate(baseline_on=admin_value(Timepoint.BASELINE, "administered_on"),
                          baseline_state=admin_value(Timepoint.BASELINE, "status"),
                          followup_state=admin_value(Timepoint.FOLLOWUP, "status"),
                          withdrawn=Exists(Withdrawal.objects.filter(patient=OuterRef("pk"))))
                .filter(baseline_state=AdministrationStatus.COMPLETE, withdrawn=False)
                .order_by("baseline_on", "study_id")
                .values_list("study_id", "clinic__code", "baseline_on", "followup_state"))
    result = QualityList(
        "overdue", "Patients overdue for follow-up",
        f"Past the due day (day {settings.FOLLOWUP_DUE_DAYS}) without a completed follow-up, "
        "and not recorded as lost or withdrawn. Oldest first.",
        ["Study ID", "Clinic", "Baseline", "Due", "Window closes", "Status", "Draft entered"])
    for study_id, clinic, baseline_on, followup_state in patients.iterator(chunk_size=5000):
        code = worklist_status(today=today, withdrawn=False, followup_status="active",
                               baseline_on=baseline_on, baseline_complete=True,
                               followup_complete=followup_state == AdministrationStatus.COMPLETE)
        if code not in ("overdue", "window_missed"):
            continue
        result.count += 1
        if len(result.rows) < LIST_LIMIT:
            dates = followup_dates(baseline_on)
            result.rows.append([study_id, clinic, baseline_on, dates.due_on, dates.window_end,
                                STATUS_BY_CODE[code].label,
                                "yes" if followup_state == AdministrationStatus.DRAFT else ""])
    return result


def quality_lists() -> list[QualityList]:
    return [missing_scores(), followups_outside_window(), stale_drafts(), overdue_followups()]
