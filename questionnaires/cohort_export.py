"""Export of the cohort CSV with scores (DESIGN.md, "Cohort CSV"), streamed.

`cohort_rows()` is the one place that turns administrations into CSV rows; the
`export_cohort` command writes them to a file and the researcher export can feed them to a
StreamingHttpResponse (see `cohort_csv_lines`). Rows are read with one `.values_list()`
query through `.iterator()`, so memory stays flat however large the cohort is.
"""
from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TextIO

from django.db import connections, transaction
from django.db.models import QuerySet

from patients.models import Patient

from .cohort_csv import EXPORT_COLUMNS
from .instruments import ITEM_CODES, SCORE_CODES
from .models import Administration, AdministrationStatus

# Database lookups behind EXPORT_COLUMNS, in the same order.
_PATIENT_LOOKUPS = {
    "study_id": "patient__study_id", "clinic": "patient__clinic__code",
    "age": "patient__age", "gender": "patient__gender", "ethnicity": "patient__ethnicity",
    "education": "patient__education", "pain_years": "patient__pain_years",
    "pain_sites": "patient__pain_sites",
}
EXPORT_LOOKUPS: tuple[str, ...] = tuple(_PATIENT_LOOKUPS.get(column, column)
                                       for column in EXPORT_COLUMNS)
_SCORE_POSITIONS = frozenset(EXPORT_COLUMNS.index(code) for code in SCORE_CODES)
assert set(EXPORT_COLUMNS) >= set(ITEM_CODES)  # items are exported under their own codes


def cohort_queryset(*, patients_qs: QuerySet[Patient] | None = None,
                    include_withdrawn_excluded: bool = False,
                    include_drafts: bool = False) -> QuerySet[Administration]:
    """The administrations a cohort export contains, in export order."""
    administrations = Administration.objects.all()
    if not include_drafts:
        administrations = administrations.filter(status=AdministrationStatus.COMPLETE)
    if patients_qs is not None:
        administrations = administrations.filter(patient__in=patients_qs)
    if not include_withdrawn_excluded:
        administrations = administrations.exclude(patient__withdrawal__keep_collected_data=False)
    # "baseline" sorts before "followup".
    return administrations.order_by("patient__study_id", "timepoint")


def _cell(value: object, is_score: bool) -> str:
    if value is None:
        return ""
    if is_score:
        return repr(float(value))  # full precision: the shortest text that reads back exactly
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def cohort_rows(*, patients_qs: QuerySet[Patient] | None = None,
                include_withdrawn_excluded: bool = False, include_drafts: bool = False,
                header: bool = True, chunk_size: int = 2000) -> Iterator[list[str]]:
    """Yield the cohort CSV as lists of strings: the header (unless header=False), then one
    row per administration, ordered by study_id, baseline before follow-up.

    patients_qs: restrict to these patients (e.g. `patients_for_user(user=...)`); None = all.
    include_withdrawn_excluded: also export patients whose withdrawal says their data may
        not be kept (Withdrawal.keep_collected_data=False); left out by default.
    include_drafts: also export draft (incomplete) administrations; by default only
        complete ones, as the analysis uses.
    Columns are questionnaires.cohort_csv.EXPORT_COLUMNS; empty string = missing; dates ISO;
    scores at full precision (repr of the float).
    The query runs lazily, when the first row is requested, and is read in chunks of
    `chunk_size` rows (a server-side cursor on PostgreSQL).
    """
    if header:
        yield list(EXPORT_COLUMNS)
    administrations = cohort_queryset(patients_qs=patients_qs,
                                      include_withdrawn_excluded=include_withdrawn_excluded,
                                      include_drafts=include_drafts)
    flags = [position in _SCORE_POSITIONS for position in range(len(EXPORT_LOOKUPS))]
    for values in administrations.values_list(*EXPORT_LOOKUPS).iterator(chunk_size=chunk_size):
        yield [_cell(value, flag) for value, flag in zip(values, flags, strict=True)]


def cohort_values(*, batch_size: int = 5000, **filters) -> Iterator[tuple]:
    """The rows of `cohort_rows` as database values (None, int, float, date, str), streamed.

    Takes the filters of `cohort_queryset`. For large exports: Django's per-row processing
    of a values_list would halve the speed and these columns need none of it, so the
    query's SQL runs on a chunked cursor (server-side on PostgreSQL). csv.writer writes
    these values exactly as `cohort_rows` formats them (None as empty, str() of ints and
    dates, repr() of floats); a test keeps the two identical.
    """
    queryset = cohort_queryset(**filters).values_list(*EXPORT_LOOKUPS)
    sql, params = queryset.query.sql_with_params()
    # Inside a transaction PostgreSQL's server-side cursor is WITHOUT HOLD and streams;
    # outside one it would build the whole result before the first row.
    with transaction.atomic(using=queryset.db), \
            connections[queryset.db].chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(batch_size):
            yield from batch


class _Echo:
    """A file-like object whose write() hands the line back (for csv.writer)."""

    def write(self, value: str) -> str:
        return value


def cohort_csv_lines(**options) -> Iterator[str]:
    """The cohort CSV as text lines (CRLF-terminated, as csv writes them), for
    `StreamingHttpResponse(cohort_csv_lines(patients_qs=...), content_type="text/csv")`.
    Takes the keyword arguments of `cohort_rows`."""
    writer = csv.writer(_Echo())
    for row in cohort_rows(**options):
        yield writer.writerow(row)


def write_cohort_csv(stream: TextIO, **options) -> int:
    """Write the cohort CSV to an open text stream; return the number of data rows."""
    writer = csv.writer(stream)
    count = -1 if options.get("header", True) else 0
    for row in cohort_rows(**options):
        writer.writerow(row)
        count += 1
    return max(count, 0)
