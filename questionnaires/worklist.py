"""A clinic's worklist read from the database: patients and their administrations.

The status rules and rows are patients.worklist's; this module only reads, in two plain
queries (the clinic's patients, their administrations), so the page costs the same number
of queries for 5 or 5,000 patients.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.utils import timezone

from clinics.models import Clinic
from patients.models import Patient
from patients.worklist import STATUS_BY_CODE, STATUSES, URGENCY, WorklistRow, worklist_row

from .models import Administration

# The worklist's orders (query-string value, label); the first is the default.
SORTS: tuple[tuple[str, str], ...] = (
    ("urgency", "What needs doing"), ("study_id", "Study ID"), ("baseline", "Baseline date"))
SORT_CODES = frozenset(code for code, _ in SORTS)


def _sort_key(sort: str):
    """Row key of an order; rows arrive in study ID order, and sorted() is stable, so study
    ID breaks ties. No baseline yet sorts after every date."""
    if sort == "baseline":
        return lambda row: (row.baseline_on is None, row.baseline_on or dt.date.min)
    if sort == "study_id":
        return None
    return lambda row: URGENCY[row.status.code]


@dataclass(frozen=True)
class Worklist:
    clinic: Clinic
    rows: list[WorklistRow]
    counts: dict[str, int]
    total: int


def _patient_values(clinic: Clinic) -> list[dict]:
    """Each patient's worklist inputs, in two plain queries (patients, administrations):
    cheaper than a correlated subquery per patient and column."""
    clinic_patients = Patient.objects.filter(clinic=clinic)
    patients = list(clinic_patients.order_by("study_id")
                    .values("pk", "study_id", "followup_status",
                            "withdrawal__withdrawn_on"))
    # "patient in (the clinic's patients)" lets PostgreSQL use the patient index: a third of
    # the time of joining every administration to its patient (35 against 110 ms at 100,000)
    admins: dict[tuple[int, str], tuple[dt.date, str]] = {
        (patient_id, timepoint): (administered_on, state)
        for patient_id, timepoint, administered_on, state in Administration.objects.filter(
            patient__in=clinic_patients.values("pk")).values_list(
                "patient_id", "timepoint", "administered_on", "status")}
    for values in patients:
        baseline_on, values["baseline_state"] = admins.get((values["pk"], "baseline"),
                                                           (None, None))
        values["baseline_on"] = baseline_on
        values["followup_state"] = admins.get((values["pk"], "followup"), (None, None))[1]
    return patients


def clinic_worklist(*, clinic: Clinic, today: dt.date | None = None, status: str = "",
                    search: str = "", sort: str = "urgency") -> Worklist:
    """The clinic's worklist, filtered by status and study ID; counts cover the whole clinic.
    Ordered by `sort` (SORTS; an unknown value orders by urgency), in memory.

    Two queries, whatever the number of patients.
    """
    today = today or timezone.localdate()
    rows = [worklist_row(values, today) for values in _patient_values(clinic)]
    counts = Counter(row.status.code for row in rows)
    total = len(rows)
    if status in STATUS_BY_CODE:
        rows = [row for row in rows if row.status.code == status]
    needle = search.strip().upper()
    if needle:
        rows = [row for row in rows if needle in row.study_id.upper()]
    key = _sort_key(sort if sort in SORT_CODES else "urgency")
    if key is not None:
        rows.sort(key=key)
    return Worklist(clinic=clinic, rows=rows,
                    counts={s.code: counts.get(s.code, 0) for s in STATUSES}, total=total)
