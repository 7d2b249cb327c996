"""The one writer of the cohort CSV's rows: `manage.py export_cohort`, the statistician's
download (SQLite and PostgreSQL alike) and the wide file all read `cohort_rows`.

Rows come from one `.values_list()` query run on a chunked cursor (server-side on
PostgreSQL), so memory stays flat however large the cohort is. Cells keep their database
types and csv.writer formats them: None as empty, ints as digits, dates as ISO 8601;
the scores become decimals at their stated precision (precision.py: "8.33", "55.00") and
the last column says why each empty cell is empty (missing.py; an item's reason stored
by self-completion, e.g. declined, read from the same query's JSON column).

Text cells that a spreadsheet would run as a formula are neutralised with a leading
apostrophe (OWASP, "CSV injection"); numbers and dates are never touched, so a negative
change in the wide file stays a number.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from django.db import connections, transaction

from ..instruments import ITEM_CODES, SCORE_CODES
from ..models import AdministrationStatus
from .batching import batched
from .columns import EXPORT_COLUMNS, EXPORT_LOOKUPS, TEXT_COLUMNS
from .missing import (
    REASON_COLUMNS,
    REASONS_COLUMN,
    STORED_REASONS,
    Reason,
    column_reason,
    reasons_cell,
)
from .precision import SCORE_DECIMALS, score_decimal
from .selection import FORMULA_STARTS, cohort_queryset  # noqa: F401 (part of this API)
from .writer_sql import cohort_copy_sql, copy_csv_parts

# A cell starting with one of these is run as a formula by Excel, LibreOffice or Google
# Sheets (tab and carriage return can hide a leading '=').
BATCH_ROWS = 2000        # rows per CSV chunk (a streamed download sends one chunk a batch)
FETCH_ROWS = 5000        # rows per round trip to the database


def neutralise(value: Any) -> Any:
    """Prefix a text cell that a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralised(rows: Iterable[Sequence[Any]], text_positions: Sequence[int]
                ) -> Iterator[Sequence[Any]]:
    """The rows with their text cells (at `text_positions`) neutralised."""
    for row in rows:
        # Copy only the rare row that needs it: this runs for every row of a large export.
        for index in text_positions:
            value = row[index]
            if isinstance(value, str) and value.startswith(FORMULA_STARTS):
                row = [neutralise(cell) if position in text_positions else cell
                       for position, cell in enumerate(row)]
                break
        yield row


def cohort_database_values(**filters) -> Iterator[tuple]:
    """The rows as the database holds them (columns EXPORT_LOOKUPS), streamed.

    Django's per-row processing of a values_list would halve the speed and these columns
    need none of it, so the query's SQL runs on a chunked cursor.
    """
    queryset = cohort_queryset(**filters).values_list(*EXPORT_LOOKUPS)
    sql, params = queryset.query.sql_with_params()
    # Inside a transaction PostgreSQL's server-side cursor is WITHOUT HOLD and streams;
    # outside one it would build the whole result before the first row.
    with transaction.atomic(using=queryset.db), \
            connections[queryset.db].chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(FETCH_ROWS):
            yield from batch


_SCORE_PLACES = tuple((EXPORT_COLUMNS.index(code), SCORE_DECIMALS[code])
                      for code in SCORE_CODES)
_REASON_POSITIONS = tuple((EXPORT_COLUMNS.index(column), column,
                           column_reason(column, complete=True),
                           column_reason(column, complete=False))
                          for column in REASON_COLUMNS)
_COMPLETE = AdministrationStatus.COMPLETE
_ITEM_CODE_SET = frozenset(ITEM_CODES)
_REASONS_AT = EXPORT_COLUMNS.index(REASONS_COLUMN)


def _stored_reasons(stored: Any) -> dict[str, Reason]:
    """The item reasons an administration stored (its JSON column: the text the cursor
    returns, or a dict), as file reasons; unknown values are left to the derived reason."""
    if not stored or stored == "{}":  # most rows: cheap before any JSON parsing
        return {}
    if isinstance(stored, str):
        stored = json.loads(stored)
    return {code: STORED_REASONS[value] for code, value in stored.items()
            if code in _ITEM_CODE_SET and value in STORED_REASONS}


def file_row(values: Sequence[Any]) -> list[Any]:
    """A database row (EXPORT_LOOKUPS) as the file's row (EXPORT_COLUMNS): scores at their
    precision (Decimal), and the missing_reasons cell (at its column) in place of the
    status and the stored reasons (an item's stored reason, e.g. declined, before the
    derived one)."""
    row = list(values)
    stored = _stored_reasons(row.pop())
    complete = row.pop() == _COMPLETE
    for position, places in _SCORE_PLACES:
        row[position] = score_decimal(row[position], places)
    pairs = [(column, stored.get(column) or (when_complete if complete else when_draft))
             for position, column, when_complete, when_draft in _REASON_POSITIONS
             if row[position] is None or row[position] == ""]
    row.insert(_REASONS_AT, reasons_cell(pairs))
    return row


def cohort_values(**filters) -> Iterator[list[Any]]:
    """The cohort file's rows (EXPORT_COLUMNS) as typed values (None, int, Decimal, date,
    str), streamed; takes the filters of `cohort_queryset`. Not neutralised: for the Stata
    file and the wide file's pivot."""
    return map(file_row, cohort_database_values(**filters))


_TEXT_POSITIONS = tuple(EXPORT_COLUMNS.index(name) for name in TEXT_COLUMNS)


def cohort_rows(**filters) -> Iterator[Sequence[Any]]:
    """The cohort CSV's data rows (columns EXPORT_COLUMNS), text cells neutralised, ordered
    by study ID, baseline before follow-up. Takes the filters of `cohort_queryset`."""
    return neutralised(cohort_values(**filters), _TEXT_POSITIONS)


def csv_text_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """CSV text (CRLF line ends): the header at once, then BATCH_ROWS rows a chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield buffer.getvalue()
    for batch in batched(rows, BATCH_ROWS):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(batch)
        yield buffer.getvalue()


def python_csv_parts(**filters) -> Iterator[tuple[str, int]]:
    """(text, data rows in it) of the cohort CSV written by csv.writer: the header, then
    BATCH_ROWS rows a chunk. The reference, and the path on SQLite."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue(), 0
    for batch in batched(cohort_rows(**filters), BATCH_ROWS):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(batch)
        yield buffer.getvalue(), len(batch)


def cohort_csv_parts(**filters) -> Iterator[tuple[str, int]]:
    """(text, data rows in it) of the cohort CSV, header first; takes the filters of
    `cohort_queryset`. On PostgreSQL the database writes the rows (writer_sql: COPY, the
    same bytes, several times faster)."""
    if connections[cohort_queryset().db].vendor != "postgresql":
        return python_csv_parts(**filters)

    def parts() -> Iterator[tuple[str, int]]:
        yield next(python_csv_parts(**filters))  # the header, written by csv.writer
        yield from copy_csv_parts(*cohort_copy_sql(**filters))

    return parts()


def cohort_csv_chunks(rows: Iterable[Sequence[Any]] | None = None, **filters) -> Iterator[str]:
    """The cohort CSV as text chunks: header, then `rows` (by default the cohort's, the
    filters of `cohort_queryset` applied)."""
    if rows is None:
        return (text for text, _ in cohort_csv_parts(**filters))
    return csv_text_chunks(EXPORT_COLUMNS, rows)


def write_cohort_csv(stream: TextIO, **filters) -> int:
    """Write the cohort CSV to an open text stream; return the number of data rows."""
    count = 0
    # closed however the writing ends (a broken pipe): on PostgreSQL that stops the COPY
    with contextlib.closing(cohort_csv_parts(**filters)) as parts:
        for text, rows in parts:
            stream.write(text)
            count += rows
    return count
