"""The cohort CSV written by PostgreSQL: `COPY (SELECT ...) TO STDOUT`, byte for byte the
Python writer's file (writer.py, which stays the SQLite path and the reference).

Each cell is formatted in SQL as writer.py formats it, from the same column list
(columns.EXPORT_LOOKUPS) and the model fields behind it, so a column appended there is
written here without an edit (a field of a type this module does not know is refused at
import, never written differently):

- text: a cell starting with = + - @ tab or CR gets a leading apostrophe (TEXT_COLUMNS,
  as writer.neutralise), and an empty string becomes NULL: COPY quotes empty strings
  ("") where csv.writer leaves them empty, and writes NULL as an empty unquoted cell;
- dates as YYYY-MM-DD; integers as digits;
- scores as `round(x::numeric, places)`: PostgreSQL's float8 -> numeric cast keeps 15
  significant digits and round() rounds half away from zero, precision.py's rule;
- missing_reasons from the status and the stored item reasons, as writer.file_row.

Both quote a cell holding a comma, a quote or a line break and double its quotes; COPY
ends lines with LF where csv.writer writes CRLF, so every LF outside a quoted cell
becomes CRLF on the way out (the few chunks holding a quote are split at the quotes to
tell inside from outside).

The COPY runs in a helper thread that fills a bounded queue, so the download streams
(first bytes at once, memory flat); the thread only ever uses the raw connection while
the caller waits on the queue.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from django.db import connections
from django.db.models import F, Model

from ..instruments import ITEM_CODES
from ..models import Administration, AdministrationStatus
from .columns import DATABASE_COLUMNS, EXPORT_COLUMNS, EXPORT_LOOKUPS, TEXT_COLUMNS
from .missing import REASON_COLUMNS, REASONS_COLUMN, STORED_REASONS, column_reason
from .precision import SCORE_DECIMALS
from .selection import FORMULA_STARTS, cohort_queryset

CHUNK_BYTES = 256 * 1024     # text handed on at a time
QUEUE_CHUNKS = 8             # chunks the COPY may run ahead of the reader (~2 MB)

_TEXT_TYPES = {"CharField", "TextField", "SlugField"}
_INTEGER_TYPES = {"IntegerField", "SmallIntegerField", "PositiveSmallIntegerField",
                  "PositiveIntegerField", "BigIntegerField", "AutoField", "BigAutoField"}


def _field(lookup: str):
    model: type[Model] = Administration
    *path, name = lookup.split("__")
    for step in path:
        model = model._meta.get_field(step).related_model
    return model._meta.get_field(name)


def _alias(position: int) -> str:
    return f't."c{position}"'


def _cell(column: str, position: int, params: list[Any]) -> str:
    """The SQL of one cell of DATABASE_COLUMNS, formatted as csv.writer writes it."""
    kind = _field(EXPORT_LOOKUPS[position]).get_internal_type()
    value = _alias(position)
    if kind in _TEXT_TYPES:
        if column in TEXT_COLUMNS:
            params.extend(FORMULA_STARTS)
            marks = ", ".join(["%s"] * len(FORMULA_STARTS))
            value = (f"CASE WHEN left({value}, 1) IN ({marks}) THEN '''' || {value} "
                     f"ELSE {value} END")
        return f"NULLIF({value}, '')"
    if kind == "DateField":
        return f"to_char({value}, 'YYYY-MM-DD')"
    if kind in _INTEGER_TYPES:
        return value
    if kind == "FloatField" and column in SCORE_DECIMALS:
        return f"round(CAST({value} AS numeric), {int(SCORE_DECIMALS[column])})"
    raise NotImplementedError(f"{column}: no SQL format for a {kind} (writer_sql.py)")


def _reasons_cell(params: list[Any]) -> str:
    """missing_reasons: each empty cell's column:reason in column order (writer.file_row)."""
    status, stored = _alias(len(DATABASE_COLUMNS)), _alias(len(DATABASE_COLUMNS) + 1)
    stored_codes = tuple(STORED_REASONS)
    parts = []
    for column in REASON_COLUMNS:
        position = DATABASE_COLUMNS.index(column)
        value = _alias(position)
        empty = f"{value} IS NULL"
        if _field(EXPORT_LOOKUPS[position]).get_internal_type() in _TEXT_TYPES:
            empty += f" OR {value} = ''"
        complete = column_reason(column, complete=True)
        draft = column_reason(column, complete=False)
        reason = "%s"
        if complete != draft:
            reason = f"CASE WHEN {status} = %s THEN %s ELSE %s END"
        if column in ITEM_CODES:  # an item's stored reason (e.g. declined) comes first
            marks = ", ".join(["%s"] * len(stored_codes))
            parts.append(f"CASE WHEN {empty} THEN %s || CASE WHEN ({stored} ->> %s) IN "
                         f"({marks}) THEN {stored} ->> %s ELSE {reason} END END")
            params.extend([f"{column}:", column, *stored_codes, column])
        else:
            parts.append(f"CASE WHEN {empty} THEN %s || {reason} END")
            params.append(f"{column}:")
        if complete != draft:
            params.extend([AdministrationStatus.COMPLETE, complete.code, draft.code])
        else:
            params.append(complete.code)
    return f"NULLIF(array_to_string(ARRAY[{', '.join(parts)}]::text[], ';'), '')"


def cohort_copy_sql(**filters) -> tuple[str, list[Any], str]:
    """(SELECT of the file's data lines, its params, the database alias); takes the
    filters of selection.cohort_queryset."""
    inner = cohort_queryset(**filters).order_by().values(
        **{f"c{position}": F(lookup) for position, lookup in enumerate(EXPORT_LOOKUPS)})
    inner_sql, inner_params = inner.query.sql_with_params()
    params: list[Any] = []
    cells = []
    for column in EXPORT_COLUMNS:
        if column == REASONS_COLUMN:
            cells.append(_reasons_cell(params))
        else:
            cells.append(_cell(column, DATABASE_COLUMNS.index(column), params))
    # The Python path's order: study ID, then timepoint ("baseline" before "followup"),
    # in the database's collation (the same columns, so the same order).
    order = ", ".join(_alias(DATABASE_COLUMNS.index(name)) for name in ("study_id", "timepoint"))
    sql = f"SELECT {', '.join(cells)} FROM ({inner_sql}) AS t ORDER BY {order}"
    return sql, [*params, *inner_params], inner.db


class _LineEnds:
    """LF -> CRLF outside quoted cells, across chunk boundaries; counts the lines."""

    def __init__(self) -> None:
        self.quoted = False
        self.lines = 0

    def convert(self, data: bytes) -> bytes:
        if b'"' not in data:
            if self.quoted:
                return data
            self.lines += data.count(b"\n")
            return data.replace(b"\n", b"\r\n")
        parts = data.split(b'"')
        for index in range(len(parts)):
            if (index % 2 == 0) != self.quoted:  # outside a quoted cell
                self.lines += parts[index].count(b"\n")
                parts[index] = parts[index].replace(b"\n", b"\r\n")
        if len(parts) % 2 == 0:
            self.quoted = not self.quoted
        return b'"'.join(parts)


class _Sink:
    """The file COPY writes to: gathers its many small writes into chunks on a queue."""

    def __init__(self, chunks: queue.Queue) -> None:
        self.chunks = chunks
        self.buffer = bytearray()
        self.stopped = False

    def write(self, data: bytes) -> None:
        if self.stopped:
            raise RuntimeError("the reader has gone")
        self.buffer += data
        if len(self.buffer) >= CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.chunks.put(bytes(self.buffer))
            self.buffer.clear()


_DONE = object()


def copy_csv_parts(sql: str, params: list[Any], using: str) -> Iterator[tuple[str, int]]:
    """(text, lines in it) of `COPY (sql) TO STDOUT` as csv.writer writes CSV, streamed."""
    connection = connections[using]
    connection.ensure_connection()
    raw = connection.connection
    with connection.cursor() as cursor:
        query = cursor.mogrify(sql, params).decode()
    chunks: queue.Queue = queue.Queue(maxsize=QUEUE_CHUNKS)
    sink = _Sink(chunks)

    def copy() -> None:
        try:
            with raw.cursor() as cursor:
                cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", sink)
            sink.flush()
            chunks.put(_DONE)
        except BaseException as exc:  # handed to the reader, raised there
            chunks.put(exc)

    thread = threading.Thread(target=copy, name="cohort-copy", daemon=True)
    thread.start()
    ends = _LineEnds()
    finished = False
    try:
        while (item := chunks.get()) is not _DONE:
            if isinstance(item, BaseException):
                finished = True
                raise item
            before = ends.lines
            text = ends.convert(item).decode()
            yield text, ends.lines - before
        finished = True
    finally:
        if not finished:  # the reader stopped early: stop the COPY, let the thread end
            sink.stopped = True
            raw.cancel()
            while thread.is_alive():
                try:
                    chunks.get(timeout=0.1)
                except queue.Empty:
                    pass
        thread.join()
