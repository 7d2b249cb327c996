"""Data-quality lists for data managers: what to chase, fix or explain.

1. complete administrations with a missing score, and why (the scoring module says why);
2. follow-ups dated outside their window (days from the baseline questionnaire);
3. drafts left incomplete for more than DRAFT_STALE_DAYS days since their last change;
4. patients overdue for follow-up: the worklist's "overdue" and "window missed" statuses,
   across every clinic.

Each list is filtered and counted by the database (one query for up to LIST_LIMIT rows,
one more for the exact count when there are more), so the Python work does not grow with
the cohort. The page keeps the lists that need a pass over the whole cohort until the
data version (analysis.interviews.selectors.data_version) or the day changes.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import DurationField, ExpressionWrapper, F, FilteredRelation, Q
from django.utils import timezone

from patients.models import Patient
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


def _administration(relation: str, timepoint: str) -> FilteredRelation:
    """A join to one timepoint's administration (one per patient and timepoint)."""
    return FilteredRelation(relation, condition=Q(**{f"{relation}__timepoint": timepoint}))


def followups_outside_window() -> QualityList:
    start, end = settings.FOLLOWUP_WINDOW_START_DAYS, settings.FOLLOWUP_WINDOW_END_DAYS
    # The gap is a date difference in SQL (Django's temporal subtraction, the same on
    # SQLite and PostgreSQL), so the database filters and counts; Python only sees the
    # rows shown.
    gap = ExpressionWrapper(F("administered_on") - F("baseline__administered_on"),
                            output_field=DurationField())
    followups = (Administration.objects
                 .annotate(baseline=_administration("patient__administrations",
                                                    Timepoint.BASELINE))
                 .filter(_keep(), timepoint=Timepoint.FOLLOWUP)
                 .annotate(gap=gap)
                 .filter(Q(gap__lt=dt.timedelta(days=start)) | Q(gap__gt=dt.timedelta(days=end)))
                 .order_by("patient__study_id")
                 .values_list("patient__study_id", "patient__clinic__code",
                              "baseline__administered_on", "administered_on", "status"))
    result = QualityList(
        "outside_window", "Follow-ups dated outside their window",
        f"The follow-up window is day {start} to day {end} after the baseline questionnaire "
        "(both ends inside).",
        ["Study ID", "Clinic", "Baseline", "Follow-up", "Day", "Status"])
    rows = list(followups[:LIST_LIMIT + 1])
    result.rows = [[study_id, clinic, baseline, followup, (followup - baseline).days, status]
                   for study_id, clinic, baseline, followup, status in rows[:LIST_LIMIT]]
    result.count = len(rows) if len(rows) <= LIST_LIMIT else followups.count()
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
    today = today or timezone.localdate()
    # Past the due day <=> the baseline is older than FOLLOWUP_DUE_DAYS: a comparison with
    # one date, so the database filters and counts. The label still comes from the
    # worklist's rule, for the rows shown.
    due_before = today - dt.timedelta(days=settings.FOLLOWUP_DUE_DAYS)
    not_complete = [s for s in AdministrationStatus.values if s != AdministrationStatus.COMPLETE]
    patients = (Patient.objects
                .annotate(baseline=_administration("administrations", Timepoint.BASELINE),
                          followup=_administration("administrations", Timepoint.FOLLOWUP))
                .filter(Q(followup__isnull=True) | Q(followup__status__in=not_complete),
                        followup_status="active", withdrawal__isnull=True,
                        baseline__status=AdministrationStatus.COMPLETE,
                        baseline__administered_on__lt=due_before)
                .order_by("baseline__administered_on", "study_id")
                .values_list("study_id", "clinic__code", "baseline__administered_on",
                             "followup__status"))
    result = QualityList(
        "overdue", "Patients overdue for follow-up",
        f"Past the due day (day {settings.FOLLOWUP_DUE_DAYS}) without a completed follow-up, "
        "and not recorded as lost or withdrawn. Oldest first.",
        ["Study ID", "Clinic", "Baseline", "Due", "Window closes", "Status", "Draft entered"])
    rows = list(patients[:LIST_LIMIT + 1])
    for study_id, clinic, baseline_on, followup_state in rows[:LIST_LIMIT]:
        code = worklist_status(today=today, withdrawn=False, followup_status="active",
                               baseline_on=baseline_on, baseline_complete=True,
                               followup_complete=False)
        dates = followup_dates(baseline_on)
        result.rows.append([study_id, clinic, baseline_on, dates.due_on, dates.window_end,
                            STATUS_BY_CODE[code].label,
                            "yes" if followup_state == AdministrationStatus.DRAFT else ""])
    result.count = len(rows) if len(rows) <= LIST_LIMIT else patients.count()
    return result


_latest: dict[str, tuple[tuple, list[QualityList]]] = {}


def quality_lists() -> list[QualityList]:
    """The four lists. Three depend only on the data and the day, so they are kept until
    either changes (each needs a pass over the whole cohort); stale drafts also depend on
    the time of day and are read every time (drafts are few)."""
    from ..interviews.selectors import data_version

    key = (data_version(), timezone.localdate())
    cached = _latest.get("lists")
    if cached is None or cached[0] != key:
        cached = (key, [missing_scores(), followups_outside_window(), overdue_followups()])
        _latest["lists"] = cached
    missing, outside, overdue = cached[1]
    return [missing, outside, stale_drafts(), overdue]
