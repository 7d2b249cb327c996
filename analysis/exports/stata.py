"""Stata .dta files (format 118), typed and labelled from the codebook.

The .dta cannot stream (the format needs the row count and string widths up front): it is
built column by column in batches and sent from a temporary file.

Missing cells carry their reason as Stata's extended missing values (.a, .b, ...:
questionnaires.cohort_files.missing) with value labels. pandas writes only the system
missing value ".", so the file is written with "." and the extended values are then set
in place in its data section (fixed-width records, located through the file's map).
"""
from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterable, Sequence
from typing import IO, Any

import numpy as np
import pandas as pd

from questionnaires.cohort_files.batching import batched
from questionnaires.cohort_files.missing import REASONS, REASONS_COLUMN, parse_reasons

from .codebook import CATEGORY, DATE, FLOAT, INTEGER, Column
from .snippets import stata_label

CHUNK_ROWS = 5_000
LETTERS = "abcdefghijklmnopqrstuvwxyz"


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


class _Reasons:
    """The extended missing value of each missing cell: (row, letter) lists by column."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = set(names)
        self.cells: dict[str, tuple[list[int], list[str]]] = {}

    def add(self, row: int, cell: str | None) -> None:
        for name, reason in parse_reasons(cell or "").items():
            if name in self.names:
                rows, letters = self.cells.setdefault(name, ([], []))
                rows.append(row)
                letters.append(reason.letter)


def stata_frame(rows: Iterable[Sequence[Any]], columns: Sequence[Column],
                reasons: _Reasons | None = None) -> pd.DataFrame:
    """A typed DataFrame, built in chunks so that no list of all rows is ever held.

    A `missing_reasons` column is not kept: its reasons go to `reasons` (if given)."""
    names = [column.name for column in columns]
    position = names.index(REASONS_COLUMN) if REASONS_COLUMN in names else None
    kept = [column for column in columns if column.name != REASONS_COLUMN]
    chunks, start = [], 0
    for batch in batched(rows, CHUNK_ROWS):
        if position is not None:
            if reasons is not None:
                for offset, row in enumerate(batch):
                    reasons.add(start + offset, row[position])
            batch = [[*row[:position], *row[position + 1:]] for row in batch]
        chunks.append(_typed_chunk(batch, kept))
        start += len(batch)
    if not chunks:
        return _typed_chunk([], kept)
    return pd.concat(chunks, ignore_index=True)


def write_dta(rows: Iterable[Sequence[Any]], columns: Sequence[Column]
              ) -> tuple[Any, int]:
    """Write a .dta (Stata 14+, format 118) to a temporary file; return it and its rows.

    Categories are numbered 1..k in the codebook's order, with value labels; every
    variable carries its codebook label; a missing cell holds its reason's extended
    missing value, labelled. The file is deleted when closed.
    """
    reasons = _Reasons([column.name for column in columns])
    frame = stata_frame(rows, columns, reasons)
    kept = [column for column in columns if column.name != REASONS_COLUMN]
    missing_labels = {_label_key(reason.letter): reason.label for reason in REASONS}
    value_labels = {}
    for column in kept:
        labels = {n: label for n, (_, label) in enumerate(column.categories, 1)}
        if column.is_numeric or column.type == CATEGORY:  # pandas labels no dates
            value_labels[column.name] = {**labels, **missing_labels}
    handle = tempfile.TemporaryFile(suffix=".dta")
    frame.to_stata(
        handle, write_index=False, version=118,
        convert_dates={c.name: "td" for c in kept if c.type == DATE},
        variable_labels={c.name: stata_label(c.label) for c in kept},
        value_labels=value_labels)
    _set_extended_missing(handle, [column.name for column in kept], reasons.cells)
    handle.seek(0)
    return handle, len(frame)


# -- extended missing values, set in place -------------------------------------------------

# Value-label keys of .a, .b, ...: Stata stores them as the long values past ".".
_LONG_MISSING = 2_147_483_621


def _label_key(letter: str) -> int:
    return _LONG_MISSING + 1 + LETTERS.index(letter)


# Storage type code -> (numpy dtype, value of ".", step to .a, .b, ...). Doubles and
# floats are set by their bit patterns (unsigned integers of the same width).
_MISSING = {
    65530: ("<i1", 101, 1),                               # byte
    65529: ("<i2", 32_741, 1),                            # int
    65528: ("<i4", _LONG_MISSING, 1),                     # long
    65527: ("<u4", 0x7F00_0000, 0x800),                   # float
    65526: ("<u8", 0x7FE0_0000_0000_0000, 1 << 40),       # double
}


def _width(type_code: int) -> int:
    if type_code <= 2045:
        return type_code  # str#: fixed width
    if type_code == 32768:
        return 8  # strL reference
    return np.dtype(_MISSING[type_code][0]).itemsize


def _read_at(handle: IO[bytes], offset: int, size: int) -> bytes:
    handle.seek(offset)
    return handle.read(size)


def _set_extended_missing(handle: IO[bytes], names: list[str],
                          cells: dict[str, tuple[list[int], list[str]]]) -> None:
    """Overwrite the "." of each listed cell with its extended missing value."""
    if not cells:
        return
    handle.seek(0)
    head = handle.read(4096)
    map_at = head.index(b"<map>") + len(b"<map>")
    offsets = struct.unpack("<14Q", _read_at(handle, map_at, 14 * 8))
    types_at = offsets[2] + len(b"<variable_types>")
    types = struct.unpack(f"<{len(names)}H", _read_at(handle, types_at, 2 * len(names)))
    data_at = offsets[9] + len(b"<data>")
    rows = (offsets[10] - data_at - len(b"</data>"))
    widths = [_width(code) for code in types]
    record = sum(widths)
    count = rows // record if record else 0
    data = np.memmap(handle, dtype=np.uint8, mode="r+", offset=data_at,
                     shape=(count, record))
    starts = np.cumsum([0, *widths[:-1]])
    for position, name in enumerate(names):
        if name not in cells:
            continue
        dtype, base, step = _MISSING[types[position]]
        row_numbers, letters = cells[name]
        codes = np.array([LETTERS.index(letter) + 1 for letter in letters], dtype=np.uint64)
        values = (np.uint64(base) + codes * np.uint64(step)).astype(dtype)
        start = starts[position]
        view = data[:, start:start + widths[position]]
        view[np.array(row_numbers)] = values.view(np.uint8).reshape(len(values), -1)
    data.flush()
    del data
