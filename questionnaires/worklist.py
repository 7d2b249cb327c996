"""A clinic's worklist computed by the database: status, counts, filters, orders and paging.

Each patient's baseline and follow-up administration are LEFT JOINed to it (one row each at
most: one administration per patient and timepoint), and patients.worklist's rules give the
status as a SQL CASE. Two queries whatever the size of the clinic: the counts per status
(one GROUP BY, which also counts the patients matching the search), and the page shown
(LIMIT/OFFSET); only that page's rows become WorklistRows.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, FilteredRelation, Q, QuerySet
from django.utils import timezone

from clinics.models import Clinic
from patients.models import Patient
from patients.worklist import (
    BASELINE_ON,
    BASELINE_STATE,
    FOLLOWUP_STATE,
    ROW_INPUTS,
    STATUS,
    STATUS_BY_CODE,
    STATUSES,
    WorklistRow,
    worklist_row,
    worklist_status_sql,
    worklist_urgency_sql,
)

from .models import Timepoint

# The worklist's orders (query-string value, label); the first is the default.
SORTS: tuple[tuple[str, str], ...] = (
    ("urgency", "What needs doing"), ("study_id", "Study ID"), ("baseline", "Baseline date"))
SORT_CODES = frozenset(code for code, _ in SORTS)
PAGE_SIZE = 100


@dataclass(frozen=True)
class Worklist:
    """The shown page of the clinic's worklist, and counts over the whole clinic."""

    clinic: Clinic
    page: Page           # its object_list: the page's WorklistRows; its paginator.count:
    counts: dict[str, int]  # the patients matching the filter and search
    total: int

    @property
    def rows(self) -> list[WorklistRow]:
        return list(self.page.object_list)


class _MatchingRows:
    """The matching patients as Paginator sees them: a count already known (from the counts
    query) and a slice read as one LIMIT/OFFSET query, each row a WorklistRow."""

    def __init__(self, queryset: QuerySet, count: int) -> None:
        self._queryset, self._count = queryset, count

    def count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, bounds: slice) -> list[WorklistRow]:
        return [worklist_row(values) for values in self._queryset[bounds].values(*ROW_INPUTS)]


def _order(sort: str) -> tuple:
    """An order of SORTS, study ID breaking ties; no baseline yet sorts after every date."""
    if sort == "baseline":
        return (F(BASELINE_ON).asc(nulls_last=True), "study_id")
    if sort == "study_id":
        return ("study_id",)
    return ("urgency", "study_id")


def worklist_queryset(*, clinic: Clinic, today: dt.date) -> QuerySet[Patient]:
    """The clinic's patients annotated with patients.worklist's ROW_INPUTS and the urgency
    rank: each administration a LEFT JOIN on the (patient, timepoint) unique index."""
    administration = {
        timepoint: FilteredRelation("administrations",
                                    condition=Q(administrations__timepoint=timepoint))
        for timepoint in (Timepoint.BASELINE, Timepoint.FOLLOWUP)}
    return (Patient.objects.filter(clinic=clinic)
            .annotate(baseline_admin=administration[Timepoint.BASELINE],
                      followup_admin=administration[Timepoint.FOLLOWUP])
            .annotate(**{BASELINE_ON: F("baseline_admin__administered_on"),
                         BASELINE_STATE: F("baseline_admin__status"),
                         FOLLOWUP_STATE: F("followup_admin__status")})
            .annotate(**{STATUS: worklist_status_sql(today),
                         "urgency": worklist_urgency_sql(today)}))


def _counts(patients: QuerySet[Patient], needle: str) -> tuple[dict[str, int], dict[str, int]]:
    """Patients per status in the clinic, and of them those whose study ID matches the
    search: one GROUP BY query."""
    matching = Count("pk", filter=Q(study_id__icontains=needle)) if needle else Count("pk")
    counts = {code: 0 for code in STATUS_BY_CODE}
    matches = dict(counts)
    for row in (patients.order_by().values(STATUS)
                .annotate(patients=Count("pk"), matching=matching)):
        counts[row[STATUS]], matches[row[STATUS]] = row["patients"], row["matching"]
    return counts, matches


def clinic_worklist(*, clinic: Clinic, today: dt.date | None = None, status: str = "",
                    search: str = "", sort: str = "urgency", page: int | str | None = None,
                    page_size: int = PAGE_SIZE) -> Worklist:
    """Page `page` of the clinic's worklist (a bad number: the first; past the end: the
    last), filtered by status and study ID, ordered by `sort` (SORTS; an unknown value
    orders by urgency). The counts cover the whole clinic. Two queries.
    """
    today = today or timezone.localdate()
    patients = worklist_queryset(clinic=clinic, today=today)
    needle = search.strip()
    counts, matches = _counts(patients, needle)
    if status in STATUS_BY_CODE:
        patients, matching = patients.filter(**{STATUS: status}), matches[status]
    else:
        matching = sum(matches.values())
    if needle:
        patients = patients.filter(study_id__icontains=needle)
    patients = patients.order_by(*_order(sort if sort in SORT_CODES else "urgency"))
    shown = Paginator(_MatchingRows(patients, matching), page_size).get_page(page)
    return Worklist(clinic=clinic, page=shown,
                    counts={s.code: counts[s.code] for s in STATUSES}, total=sum(counts.values()))
