"""Data-quality lists for data managers: what to chase, fix or explain.

1. complete administrations with a missing score, and why (the scoring module says why);
2. follow-ups dated outside their window (days from the baseline questionnaire);
3. drafts left incomplete for more than DRAFT_STALE_DAYS days since their last change;
4. patients overdue for follow-up: the worklist's "overdue" and "window missed" statuses,
   across every clinic.

Every row links to the patient's record and, for data managers, to its query
(dataqueries): "Raise query" prefilled from the row, or the query already raised from it.
A row whose query was closed as explained and accepted leaves its list (the reason stays
with the query); each list says how many it left out.

Each list is filtered and counted by the database (one query for up to LIST_LIMIT rows,
one more for the exact count when there are more), so the Python work does not grow with
the cohort. The page keeps the lists that need a pass over the whole cohort until the
data version (analysis.interviews.selectors.data_version), a query or the day
changes.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import (
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
)
from django.urls import reverse
from django.utils import timezone

from dataqueries.models import Query, QuerySource, QueryStatus
from dataqueries.selectors import (
    accepted_counts_by_source,
    may_raise_queries,
    queries_version,
    query_counts_by_clinic,
    unclosed_queries_by_target,
)
from dataqueries.services import query_raise
from patients.models import Patient
from patients.worklist import STATUS_BY_CODE, followup_dates, worklist_status
from questionnaires.instruments import SCALES_BY_CODE, SCORE_CODES
from questionnaires.models import Administration, AdministrationStatus, PihFormVersion, Timepoint
from questionnaires.scoring import score_all

DRAFT_STALE_DAYS = 7
LIST_LIMIT = 200


@dataclass(frozen=True)
class RowTarget:
    """What a row's query is about, and the question it suggests (the raise form's
    prefill)."""

    source: str
    study_id: str
    patient_id: int
    text: str
    administration_id: int | None = None
    timepoint: str = ""
    item: str = ""

    @property
    def key(self) -> tuple[str, int, int | None]:
        return self.source, self.patient_id, self.administration_id

    @property
    def raise_url(self) -> str:
        prefill = {"study_id": self.study_id, "timepoint": self.timepoint, "item": self.item,
                   "source": self.source, "text": self.text,
                   "next": f"{reverse('analysis:quality')}#{self.source}"}
        return f"{reverse('dataqueries:raise')}?{urlencode(prefill)}"


@dataclass
class QualityList:
    key: str
    title: str
    explanation: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    count: int = 0
    targets: list[RowTarget] = field(default_factory=list)  # one per row
    # Per page view (quality_page), not kept with the lists: each row's unclosed query, and
    # how many rows left the list as explained and accepted.
    queries: list[Query | None] = field(default_factory=list)
    accepted: int = 0

    @property
    def truncated(self) -> bool:
        return self.count > len(self.rows)

    @property
    def entries(self) -> list[tuple[list[Any], RowTarget, Query | None]]:
        queries = self.queries or [None] * len(self.rows)
        return list(zip(self.rows, self.targets, queries, strict=True))


def _not_accepted(source: str, target: str = "administration") -> Q:
    """Rows whose query from this list was closed as explained and accepted are left out."""
    accepted = Query.objects.filter(source=source, status=QueryStatus.ACCEPTED,
                                    **{target: OuterRef("pk")})
    return ~Q(Exists(accepted))


def _keep():
    # Patients whose withdrawal removes their data are out of every list, as of the analysis.
    return ~Q(patient__withdrawal__keep_collected_data=False)


def missing_scores() -> QualityList:
    missing = Q()
    for code in SCORE_CODES:
        missing |= Q(**{f"{code}__isnull": True})
    administrations = (Administration.objects.filter(missing, _keep(),
                                                     _not_accepted(QuerySource.MISSING_SCORES),
                                                     status=AdministrationStatus.COMPLETE)
                       .select_related("patient__clinic")
                       .order_by("patient__study_id", "timepoint"))
    result = QualityList(
        QuerySource.MISSING_SCORES, "Complete questionnaires with a missing score",
        "A score is missing when too few of its items were answered (rules in the codebook).",
        ["Study ID", "Clinic", "Timepoint", "Date", "Why"])
    rows = list(administrations[:LIST_LIMIT + 1])
    for admin in rows[:LIST_LIMIT]:
        missing_scores = [r for r in score_all(
            admin.answers, pih_reversed=admin.pih_form_version == PihFormVersion.REVERSED
        ).values() if r.is_missing]
        why = "; ".join(r.reason for r in missing_scores)
        result.rows.append([admin.patient.study_id, admin.patient.clinic.code,
                            admin.get_timepoint_display(), admin.administered_on, why])
        result.targets.append(_missing_score_target(admin, missing_scores, why))
    result.count = len(rows) if len(rows) <= LIST_LIMIT else administrations.count()
    return result


def _missing_score_target(admin: Administration, missing_scores, why: str) -> RowTarget:
    """The query names the one unanswered item when a single item is behind the missing
    scores."""
    unanswered = sorted({code for result in missing_scores
                         for code in SCALES_BY_CODE[result.code].items
                         if admin.answers.get(code) is None})
    return RowTarget(
        QuerySource.MISSING_SCORES, admin.patient.study_id, admin.patient_id,
        f"{why}. Unanswered: {', '.join(unanswered)}. Please check the paper questionnaire: "
        "enter the answers it has, or confirm they were left blank.",
        administration_id=admin.pk, timepoint=admin.timepoint,
        item=unanswered[0] if len(unanswered) == 1 else "")


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
                 .filter(_keep(), _not_accepted(QuerySource.OUTSIDE_WINDOW),
                         timepoint=Timepoint.FOLLOWUP)
                 .annotate(gap=gap)
                 .filter(Q(gap__lt=dt.timedelta(days=start)) | Q(gap__gt=dt.timedelta(days=end)))
                 .order_by("patient__study_id")
                 .values_list("patient__study_id", "patient__clinic__code",
                              "baseline__administered_on", "administered_on", "status",
                              "pk", "patient_id"))
    result = QualityList(
        QuerySource.OUTSIDE_WINDOW, "Follow-ups dated outside their window",
        f"The follow-up window is day {start} to day {end} after the baseline questionnaire "
        "(both ends inside).",
        ["Study ID", "Clinic", "Baseline", "Follow-up", "Day", "Status"])
    rows = list(followups[:LIST_LIMIT + 1])
    for study_id, clinic, baseline, followup, status, pk, patient_id in rows[:LIST_LIMIT]:
        day = (followup - baseline).days
        result.rows.append([study_id, clinic, baseline, followup, day, status])
        result.targets.append(RowTarget(
            QuerySource.OUTSIDE_WINDOW, study_id, patient_id,
            f"The follow-up is dated day {day} after the baseline questionnaire; the window "
            f"is day {start} to day {end}. Please check the date on the paper form.",
            administration_id=pk, timepoint=Timepoint.FOLLOWUP, item="administered_on"))
    result.count = len(rows) if len(rows) <= LIST_LIMIT else followups.count()
    return result


def stale_drafts(*, now: dt.datetime | None = None) -> QualityList:
    cutoff = (now or timezone.now()) - dt.timedelta(days=DRAFT_STALE_DAYS)
    drafts = (Administration.objects.filter(_keep(), _not_accepted(QuerySource.STALE_DRAFTS),
                                            status=AdministrationStatus.DRAFT,
                                            updated_at__lt=cutoff)
              .order_by("updated_at")
              .values_list("patient__study_id", "patient__clinic__code", "timepoint",
                           "administered_on", "updated_at", "pk", "patient_id"))
    result = QualityList(
        QuerySource.STALE_DRAFTS, f"Drafts left incomplete for more than {DRAFT_STALE_DAYS} days",
        "Drafts are not analysed or exported until they are completed.",
        ["Study ID", "Clinic", "Timepoint", "Date", "Last changed"])
    rows = list(drafts[:LIST_LIMIT + 1])
    labels = dict(Timepoint.choices)
    for study_id, clinic, timepoint, on, changed, pk, patient_id in rows[:LIST_LIMIT]:
        label = labels.get(timepoint, timepoint)
        result.rows.append([study_id, clinic, label, on, changed])
        result.targets.append(RowTarget(
            QuerySource.STALE_DRAFTS, study_id, patient_id,
            f"The {label.lower()} questionnaire has been a draft since "
            f"{timezone.localtime(changed):%d/%m/%Y}. Please complete it, or say why it "
            "cannot be.", administration_id=pk, timepoint=timepoint))
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
                        _not_accepted(QuerySource.OVERDUE, target="patient"),
                        followup_status="active", withdrawal__isnull=True,
                        baseline__status=AdministrationStatus.COMPLETE,
                        baseline__administered_on__lt=due_before)
                .order_by("baseline__administered_on", "study_id")
                .values_list("study_id", "clinic__code", "baseline__administered_on",
                             "followup__status", "pk"))
    result = QualityList(
        QuerySource.OVERDUE, "Patients overdue for follow-up",
        f"Past the due day (day {settings.FOLLOWUP_DUE_DAYS}) without a completed follow-up, "
        "and not recorded as lost or withdrawn. Oldest first.",
        ["Study ID", "Clinic", "Baseline", "Due", "Window closes", "Status", "Draft entered"])
    rows = list(patients[:LIST_LIMIT + 1])
    for study_id, clinic, baseline_on, followup_state, patient_id in rows[:LIST_LIMIT]:
        code = worklist_status(today=today, withdrawn=False, followup_status="active",
                               baseline_on=baseline_on, baseline_complete=True,
                               followup_complete=False)
        dates = followup_dates(baseline_on)
        result.rows.append([study_id, clinic, baseline_on, dates.due_on, dates.window_end,
                            STATUS_BY_CODE[code].label,
                            "yes" if followup_state == AdministrationStatus.DRAFT else ""])
        result.targets.append(RowTarget(
            QuerySource.OVERDUE, study_id, patient_id,
            f"The follow-up was due on {dates.due_on:%d/%m/%Y} "
            f"({STATUS_BY_CODE[code].label.lower()}). Please follow the patient up, record "
            "them as lost to follow-up, or say why not."))
    result.count = len(rows) if len(rows) <= LIST_LIMIT else patients.count()
    return result


_latest: dict[str, tuple[tuple, list[QualityList]]] = {}


def quality_lists() -> list[QualityList]:
    """The four lists. Three depend only on the data and the day, so they are kept until
    either changes (each needs a pass over the whole cohort); stale drafts also depend on
    the time of day and are read every time (drafts are few)."""
    from ..interviews.selectors import data_version

    key = (data_version(), queries_version(), timezone.localdate())
    cached = _latest.get("lists")
    if cached is None or cached[0] != key:
        cached = (key, [missing_scores(), followups_outside_window(), overdue_followups()])
        _latest["lists"] = cached
    missing, outside, overdue = cached[1]
    return [missing, outside, stale_drafts(), overdue]


def quality_page(*, user) -> dict[str, Any]:
    """The page's context: the lists with each row's unclosed query (for data managers,
    who raise them), how many rows each list left out as accepted, and the query counts
    per clinic."""
    lists = quality_lists()
    accepted = accepted_counts_by_source()
    can_raise = may_raise_queries(user=user)
    found = {}
    if can_raise:
        found = unclosed_queries_by_target(
            sources=[lst.key for lst in lists],
            patient_ids=sorted({t.patient_id for lst in lists for t in lst.targets}))
    shown = [replace(lst, accepted=accepted.get(lst.key, 0),
                     queries=[found.get(target.key) for target in lst.targets])
             for lst in lists]
    return {"lists": shown, "can_raise": can_raise, "query_counts": query_counts_by_clinic()}


def raise_queries_for_lists(*, by, keys: list[str] | None = None) -> dict[str, int]:
    """The system's pass (manage.py raise_quality_queries): a query, with the row's own
    suggested text, for every listed row (the first LIST_LIMIT of each list) that has no
    unclosed query yet. Each query is its own transaction, so a failure keeps the others.
    Returns {list key: queries raised}."""
    lists = [lst for lst in quality_lists() if keys is None or lst.key in keys]
    targets = [target for lst in lists for target in lst.targets]
    found = unclosed_queries_by_target(sources=[lst.key for lst in lists],
                                       patient_ids=sorted({t.patient_id for t in targets}))
    patients = Patient.objects.in_bulk({t.patient_id for t in targets})
    administrations = Administration.objects.in_bulk(
        {t.administration_id for t in targets if t.administration_id})
    raised = {lst.key: 0 for lst in lists}
    for target in targets:
        if target.key in found:
            continue
        try:
            query_raise(patient=patients[target.patient_id], by=by, text=target.text,
                        administration=administrations.get(target.administration_id),
                        item=target.item, source=target.source)
        except ValidationError:  # raised by someone meanwhile: that query stands
            continue
        raised[target.source] += 1
    return raised
