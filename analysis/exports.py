"""Statistician exports: the cohort CSV, the wide file, the codebook, Stata .dta, snippets.

Every file is built from the cohort rows of questionnaires.cohort_export (the rows that
`manage.py export_cohort` writes), so the download, the command and the wide file agree.
CSV files stream: rows go out in batches as they come from the database, so the first
bytes leave at once and memory stays flat whatever the cohort's size. Every export is
logged (who, when, which file, options, rows); a streamed file's row count is written when
the stream ends.

Only study IDs leave the system: the cohort rows hold no names, dates of birth or NHS
numbers (none are stored). Text cells a spreadsheet would run as a formula are neutralised;
numeric cells are never touched, so a negative change stays a number.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from django.contrib.auth.models import AbstractBaseUser
from django.db import connections, transaction

from questionnaires.cohort_csv import EXPORT_COLUMNS
from questionnaires.cohort_export import EXPORT_LOOKUPS, cohort_queryset, cohort_values
from questionnaires.instruments import SCORE_CODES

from .codebook import (
    CATEGORY,
    CODEBOOK_HEADER,
    DATE,
    FLOAT,
    INTEGER,
    WIDE_PATIENT_COLUMNS,
    Column,
    codebook_rows,
    cohort_columns,
    wide_columns,
)
from .models import ExportLog

# OWASP's list for CSV injection: a cell starting with one of these is run as a formula by
# Excel, LibreOffice or Google Sheets (tab and carriage return can hide a leading '=').
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH_ROWS = 2000

FILES = {
    "cohort_csv": ("paincohort_cohort.csv", "text/csv; charset=utf-8"),
    "wide_csv": ("paincohort_wide.csv", "text/csv; charset=utf-8"),
    "codebook_csv": ("paincohort_codebook.csv", "text/csv; charset=utf-8"),
    "cohort_dta": ("paincohort_cohort.dta", "application/x-stata-dta"),
    "wide_dta": ("paincohort_wide.dta", "application/x-stata-dta"),
    "load_r": ("load_paincohort.R", "text/plain; charset=utf-8"),
    "load_stata": ("load_paincohort.do", "text/plain; charset=utf-8"),
}


def neutralise(value: Any) -> Any:
    """Prefix a text cell that a spreadsheet would run as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def neutralise_text_columns(rows: Iterable[Sequence[Any]], columns: Sequence[Column]
                            ) -> Iterator[Sequence[Any]]:
    """Neutralise the text columns of every row; numeric and date cells pass unchanged."""
    text = [index for index, column in enumerate(columns) if column.is_text]
    for row in rows:
        # Copy only the rare row that needs it: this runs for every row of a large export.
        if any(isinstance(row[i], str) and row[i].startswith(FORMULA_STARTS) for i in text):
            row = list(row)
            for index in text:
                row[index] = neutralise(row[index])
        yield row


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)        # full precision, shortest exact form
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of up to `size` items (itertools.batched arrived only in Python 3.12)."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]], *,
               formatted: bool = False) -> Iterator[bytes]:
    """UTF-8 CSV in batches of rows: the header at once, then BATCH_ROWS rows a chunk.

    formatted=True: the cells are already text (the cohort rows are), so they are written
    as they are.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)      # CRLF line ends, as `manage.py export_cohort` writes
    writer.writerow(header)
    yield buffer.getvalue().encode()
    for batch in batched(rows, BATCH_ROWS):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(batch if formatted else ([_cell(v) for v in row] for row in batch))
        yield buffer.getvalue().encode()


# --- the cohort CSV written by PostgreSQL ------------------------------------------------
#
# On PostgreSQL the database writes each CSV line itself and Python only joins the lines:
# turning 52 columns of every row into Python values and back into text capped the
# download near 30,000 rows/s (bench/README.md). Each cell is written exactly as csv.writer
# writes the database value (a test compares the two byte for byte): NULL as empty, ints
# and ISO dates as text, floats as Python's repr (shortest exact digits, "55.0" for a
# whole number), text quoted when it holds a comma, a quote or a line break, and
# neutralised first when a spreadsheet would run it as a formula.

_SQL_FORMULA_START = r"left({v}, 1) IN ('=', '+', '-', '@', E'\t', E'\r')"
_SQL_NEEDS_QUOTES = r"""{v} ~ E'[,"\r\n]'"""


def _sql_text_cell(ref: str) -> str:
    neutral = f"(CASE WHEN {_SQL_FORMULA_START.format(v=ref)} THEN '''' || {ref} ELSE {ref} END)"
    quoted = f"""('"' || replace({neutral}, '"', '""') || '"')"""
    return (f"COALESCE(CASE WHEN {_SQL_NEEDS_QUOTES.format(v=neutral)} THEN {quoted} "
            f"ELSE {neutral} END, '')")


def _sql_float_cell(ref: str) -> str:
    # PostgreSQL prints float8 with the shortest exact digits, as repr does, but without
    # the ".0" of a whole number; scores lie within 0-100, far from exponent notation.
    return (f"COALESCE(CASE WHEN {ref} = trunc({ref}) THEN trunc({ref})::bigint::text || '.0' "
            f"ELSE {ref}::text END, '')")


def _plain_codes(column: Column) -> bool:
    """A category whose every code (the database allows no others) needs no treatment."""
    codes = [code for code, _ in column.categories]
    return bool(codes) and all(_csv_safe(code) for code in codes)


def _csv_safe(text: str) -> bool:
    return neutralise(text) == text and not any(char in text for char in ',"\r\n')


def _sql_cell(column: Column, ref: str) -> str:
    if column.is_text and _plain_codes(column):
        return f"COALESCE({ref}, '')"
    if column.is_text:
        return _sql_text_cell(ref)
    if column.type == FLOAT:
        return _sql_float_cell(ref)
    if column.type == DATE:
        return f"COALESCE(to_char({ref}, 'YYYY-MM-DD'), '')"
    return f"COALESCE({ref}::text, '')"


def cohort_csv_lines_from_database() -> Iterator[str]:
    """The cohort CSV's data lines (without line ends), neutralised, written by PostgreSQL."""
    columns = cohort_columns()
    queryset = cohort_queryset().values_list(*EXPORT_LOOKUPS)
    sql, params = queryset.query.sql_with_params()
    names = [f"c{index}" for index in range(len(columns))]
    cells = " || ',' || ".join(_sql_cell(column, name)
                               for column, name in zip(columns, names, strict=True))
    # The inner query sorts by study ID and timepoint; OFFSET 0 keeps PostgreSQL from
    # merging it into this one, so the raw columns are sorted first and the lines are
    # built as they stream out (the first lines go out after the sort, not after every
    # line is built), and the order of a subquery that is only projected is kept.
    line_sql = f"SELECT {cells} FROM ({sql} OFFSET 0) AS cohort({', '.join(names)})"
    # Inside a transaction the server-side cursor is WITHOUT HOLD: outside one, PostgreSQL
    # would build the whole result before sending the first line.
    with transaction.atomic(using=queryset.db), \
            connections[queryset.db].chunked_cursor() as cursor:
        cursor.execute(line_sql, params)
        while batch := cursor.fetchmany(5000):
            for (line,) in batch:
                yield line


def text_line_chunks(header: Sequence[str], lines: Iterable[str]) -> Iterator[bytes]:
    """UTF-8 CSV from ready-made lines: the header at once, then BATCH_ROWS lines a chunk."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(header)
    yield buffer.getvalue().encode()
    for batch in batched(lines, BATCH_ROWS):
        yield ("\r\n".join(batch) + "\r\n").encode()


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def wide_rows(rows: Iterable[Sequence[Any]]) -> Iterator[list[Any]]:
    """One row per patient from cohort rows ordered by patient (baseline, follow-up).

    The changes are follow-up minus baseline at full precision, empty when either is
    missing.
    """
    index = {name: position for position, name in enumerate(EXPORT_COLUMNS)}
    for _, patient_rows in itertools.groupby(rows, key=lambda row: row[index["study_id"]]):
        by_timepoint = {row[index["timepoint"]]: row for row in patient_rows}
        first = next(iter(by_timepoint.values()))
        baseline, followup = by_timepoint.get("baseline"), by_timepoint.get("followup")
        wide: list[Any] = [first[index[name]] for name in WIDE_PATIENT_COLUMNS]
        dates = [_date(row[index["administered_on"]]) if row else None
                 for row in (baseline, followup)]
        wide.extend(dates)
        wide.append((dates[1] - dates[0]).days if all(dates) else None)
        for code in SCORE_CODES:
            before = _number(baseline[index[code]]) if baseline else None
            after = _number(followup[index[code]]) if followup else None
            change = after - before if before is not None and after is not None else None
            wide.extend([before, after, change])
        yield wide


# --- the codebook and the snippets ----------------------------------------------------

def codebook_chunks() -> Iterator[bytes]:
    return csv_chunks(CODEBOOK_HEADER, codebook_rows())


def _r_class(column: Column) -> str:
    return {INTEGER: "integer", FLOAT: "numeric", DATE: "Date"}.get(column.type, "character")


def r_snippet() -> str:
    """Base R (no packages) that reads the cohort CSV with the codebook's types."""
    columns = cohort_columns()
    classes = ",\n".join(f'    {column.name} = "{_r_class(column)}"' for column in columns)
    lines = [
        "# PainCohort cohort CSV: one row per administration (patient x timepoint).",
        "# Column meanings, ranges and scoring rules: paincohort_codebook.csv.",
        'cohort <- read.csv("paincohort_cohort.csv", na.strings = "", encoding = "UTF-8",',
        "  colClasses = c(",
        classes,
        "  ))",
    ]
    for column in columns:
        if column.type == CATEGORY:
            codes = ", ".join(f'"{code}"' for code, _ in column.categories)
            labels = ", ".join(f'"{label}"' for _, label in column.categories)
            lines.append(f"cohort${column.name} <- factor(cohort${column.name}, "
                         f"levels = c({codes}), labels = c({labels}))")
    lines.append("str(cohort)")
    return "\n".join(lines) + "\n"


def _stata_label(text: str) -> str:
    return text.replace('"', "'")[:80]


def stata_snippet() -> str:
    """A Stata do-file that imports the cohort CSV with types, dates and labels."""
    columns = cohort_columns()
    positions = {column.name: number for number, column in enumerate(columns, start=1)}
    strings = " ".join(str(positions[c.name]) for c in columns if not c.is_numeric)
    numbers = " ".join(str(positions[c.name]) for c in columns if c.is_numeric)
    lines = [
        "* PainCohort cohort CSV: one row per administration (patient x timepoint).",
        "* Column meanings, ranges and scoring rules: paincohort_codebook.csv.",
        'import delimited using "paincohort_cohort.csv", varnames(1) encoding("utf-8") ///',
        f"    bindquote(strict) stringcols({strings}) numericcols({numbers}) clear",
        'generate administered_on_d = date(administered_on, "YMD")',
        "format administered_on_d %td",
        "order administered_on_d, after(administered_on)",
        "drop administered_on",
        "rename administered_on_d administered_on",
    ]
    for column in columns:
        if column.type != CATEGORY:
            continue
        name = column.name
        codes = " ".join(f'{n} "{code}"' for n, (code, _) in enumerate(column.categories, 1))
        labels = " ".join(f'{n} "{_stata_label(label)}"'
                          for n, (_, label) in enumerate(column.categories, 1))
        lines += [f"label define {name} {codes}",
                  f"encode {name}, generate({name}_c) label({name}) noextend",
                  f"label define {name} {labels}, modify",
                  f"order {name}_c, after({name})",
                  f"drop {name}",
                  f"rename {name}_c {name}"]
    lines += [f'label variable {column.name} "{_stata_label(column.label)}"'
              for column in columns]
    lines.append("describe")
    return "\n".join(lines) + "\n"


# --- Stata .dta -----------------------------------------------------------------------

def _typed_column(column: Column, cells: Sequence[Any]) -> Any:
    missing = (None, "")
    if column.type == INTEGER:
        return pd.array([None if c in missing else int(c) for c in cells], dtype="Int16")
    if column.type == FLOAT:
        return np.array([np.nan if c in missing else float(c) for c in cells], dtype="float64")
    if column.type == DATE:
        return pd.to_datetime(pd.Series([None if c in missing else c for c in cells],
                                        dtype=object))
    if column.type == CATEGORY:
        codes = {code: number for number, (code, _) in enumerate(column.categories, 1)}
        return pd.array([codes.get(c) for c in cells], dtype="Int8")
    return np.array(["" if c is None else str(c) for c in cells], dtype=object)


def _typed_chunk(records: list[Sequence[Any]], columns: Sequence[Column]) -> pd.DataFrame:
    """One batch of rows as typed columns (built column by column: no object table)."""
    cells_by_column = list(zip(*records, strict=True)) if records else [()] * len(columns)
    return pd.DataFrame({column.name: _typed_column(column, cells)
                         for column, cells in zip(columns, cells_by_column, strict=True)})


def stata_frame(rows: Iterable[Sequence[Any]], columns: Sequence[Column]) -> pd.DataFrame:
    """A typed DataFrame, built in chunks so that no list of all rows is ever held."""
    chunks = [_typed_chunk(list(batch), columns)
              for batch in batched(rows, 5_000)]
    if not chunks:
        return _typed_chunk([], columns)
    return pd.concat(chunks, ignore_index=True)


def write_dta(rows: Iterable[Sequence[Any]], columns: Sequence[Column]
              ) -> tuple[Any, int]:
    """Write a .dta (Stata 14+, format 118) to a temporary file; return it and its rows.

    Categories are numbered 1..k in the codebook's order, with value labels; every
    variable carries its codebook label. The file is deleted when closed.
    """
    frame = stata_frame(rows, columns)
    value_labels = {c.name: {n: label for n, (_, label) in enumerate(c.categories, 1)}
                    for c in columns if c.type == CATEGORY}
    handle = tempfile.TemporaryFile(suffix=".dta")
    frame.to_stata(
        handle, write_index=False, version=118,
        convert_dates={c.name: "td" for c in columns if c.type == DATE},
        variable_labels={c.name: _stata_label(c.label) for c in columns},
        value_labels=value_labels)
    handle.seek(0)
    return handle, len(frame)


# --- export log -----------------------------------------------------------------------

def export_log_start(*, user: AbstractBaseUser, file: str, options: dict[str, Any],
                     row_count: int | None = None) -> ExportLog:
    """Record an export as it starts (row count known now, or written when it ends)."""
    log = ExportLog(user=user, file=file, options=options, row_count=row_count)
    log.full_clean()
    log.save()
    return log


def counted(rows: Iterable[Sequence[Any]], *, log: ExportLog) -> Iterator[Sequence[Any]]:
    """Pass rows through, then write how many went out to the export log.

    A download the client abandons part-way is logged with the rows sent so far and
    `"completed": false` in its options.
    """
    sent = 0
    completed = False
    try:
        for row in rows:
            sent += 1
            yield row
        completed = True
    finally:
        options = {**log.options, "completed": completed}
        ExportLog.objects.filter(pk=log.pk).update(row_count=sent, options=options)


def cohort_csv_stream(*, user: AbstractBaseUser, options: dict[str, Any] | None = None
                      ) -> Iterator[bytes]:
    columns = cohort_columns()
    log = export_log_start(user=user, file=FILES["cohort_csv"][0], options=options or {})
    header = [c.name for c in columns]
    if connections["default"].vendor == "postgresql":
        return text_line_chunks(header, counted(cohort_csv_lines_from_database(), log=log))
    rows = counted(neutralise_text_columns(cohort_values(), columns), log=log)
    return csv_chunks(header, rows, formatted=True)


def wide_csv_stream(*, user: AbstractBaseUser, options: dict[str, Any] | None = None
                    ) -> Iterator[bytes]:
    columns = wide_columns()
    log = export_log_start(user=user, file=FILES["wide_csv"][0], options=options or {})
    rows = counted(neutralise_text_columns(wide_rows(cohort_values()), columns), log=log)
    return csv_chunks([c.name for c in columns], rows)


def codebook_export(*, user: AbstractBaseUser) -> Iterator[bytes]:
    rows = codebook_rows()
    export_log_start(user=user, file=FILES["codebook_csv"][0], options={},
                     row_count=len(rows))
    return csv_chunks(CODEBOOK_HEADER, rows)


def dta_export(*, user: AbstractBaseUser, shape: str) -> Any:
    """The cohort ("long") or wide file as .dta; returns an open temporary file."""
    if shape == "wide":
        handle, count = write_dta(wide_rows(cohort_values()), wide_columns())
    else:
        handle, count = write_dta(cohort_values(), cohort_columns())
    export_log_start(user=user, file=FILES[f"{'wide' if shape == 'wide' else 'cohort'}_dta"][0],
                     options={"shape": shape}, row_count=count)
    return handle


def snippet_export(*, user: AbstractBaseUser, language: str) -> str:
    text = r_snippet() if language == "r" else stata_snippet()
    export_log_start(user=user, file=FILES[f"load_{language}"][0], options={},
                     row_count=text.count("\n"))
    return text


def export_page_context(*, user: AbstractBaseUser) -> dict[str, Any]:
    """The export page: files, codebook, snippets and the user's recent exports."""
    return {
        "codebook_tables": [("Cohort CSV: one row per administration", cohort_columns()),
                            ("Wide CSV: one row per patient", wide_columns())],
        "r_snippet": r_snippet(),
        "stata_snippet": stata_snippet(),
        "recent_exports": list(ExportLog.objects.filter(user=user)[:10]),
    }
