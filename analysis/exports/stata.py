"""Stata .dta files (format 118), typed and labelled from the codebook.

The .dta cannot stream (the format needs the row count and string widths up front), and
built whole in memory it grew with the cohort (+180 MB at 100,000 patients). So it is
written in two passes over chunks of CHUNK_ROWS rows, memory bounded by a chunk:

1. each chunk's cells become fixed-width Stata values (numpy arrays, the missing cells
   already holding their reason's extended missing value .a, .b, ...) spooled to a
   temporary file, while the row count and the widest string are counted;
2. pandas writes the file's header, labels and value labels for a one-row frame of the
   same storage types and string widths; its data section is replaced by the spooled
   records, and the row count and the map's offsets past the data are set to match.

Storage types, as pandas writes these dtypes: integers int (Int16), categories byte
(Int8, numbered 1..k), floats and dates double (dates as days since 1960-01-01, %td),
strings str# (UTF-8). `stata_frame` (the whole frame at once) stays for small files and
as the reference the tests compare with.
"""
from __future__ import annotations

import datetime as dt
import pickle
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


def _write_frame(handle: IO[bytes], frame: pd.DataFrame, kept: Sequence[Column]) -> None:
    """pandas' .dta of `frame`: labels from the codebook, value labels for numbers and
    categories (and the missing reasons)."""
    missing_labels = {_label_key(reason.letter): reason.label for reason in REASONS}
    value_labels = {}
    for column in kept:
        labels = {n: label for n, (_, label) in enumerate(column.categories, 1)}
        if column.is_numeric or column.type == CATEGORY:  # pandas labels no dates
            value_labels[column.name] = {**labels, **missing_labels}
    frame.to_stata(
        handle, write_index=False, version=118,
        convert_dates={c.name: "td" for c in kept if c.type == DATE},
        variable_labels={c.name: stata_label(c.label) for c in kept},
        value_labels=value_labels)


def write_dta_in_memory(rows: Iterable[Sequence[Any]], columns: Sequence[Column]
                        ) -> tuple[Any, int]:
    """write_dta by pandas over the whole frame (memory grows with the rows): the
    reference the chunked writer is tested against."""
    reasons = _Reasons([column.name for column in columns])
    frame = stata_frame(rows, columns, reasons)
    kept = [column for column in columns if column.name != REASONS_COLUMN]
    handle = tempfile.TemporaryFile(suffix=".dta")
    _write_frame(handle, frame, kept)
    _set_extended_missing(handle, [column.name for column in kept], reasons.cells)
    handle.seek(0)
    return handle, len(frame)


def write_dta(rows: Iterable[Sequence[Any]], columns: Sequence[Column]
              ) -> tuple[Any, int]:
    """Write a .dta (Stata 14+, format 118) to a temporary file; return it and its rows.

    Categories are numbered 1..k in the codebook's order, with value labels; every
    variable carries its codebook label; a missing cell holds its reason's extended
    missing value, labelled. Memory stays that of one chunk (see the module's note).
    The file is deleted when closed.
    """
    names = [column.name for column in columns]
    position = names.index(REASONS_COLUMN) if REASONS_COLUMN in names else None
    kept = [column for column in columns if column.name != REASONS_COLUMN]
    widths = {column.name: 1 for column in kept if column.type not in _NUMBER_TYPES}
    count = 0
    with tempfile.TemporaryFile() as spool:
        for batch in batched(rows, CHUNK_ROWS):
            reasons = [parse_reasons(row[position] or "") if position is not None else {}
                       for row in batch]
            if position is not None:
                batch = [[*row[:position], *row[position + 1:]] for row in batch]
            cells = list(zip(*batch, strict=True))
            chunk = [_stata_values(column, column_cells, reasons)
                     for column, column_cells in zip(kept, cells, strict=True)]
            for column, values in zip(kept, chunk, strict=True):
                if column.name in widths and len(values):
                    widths[column.name] = max(widths[column.name],
                                              max(len(value) for value in values))
            pickle.dump(chunk, spool, protocol=pickle.HIGHEST_PROTOCOL)
            count += len(batch)
        handle = tempfile.TemporaryFile(suffix=".dta")
        _write_frame(handle, _template(kept, widths), kept)
        spool.seek(0)
        _replace_data(handle, spool, count, kept, widths)
    handle.seek(0)
    return handle, count


# -- the chunked writer's values ------------------------------------------------------------

_EPOCH = dt.date(1960, 1, 1)
_NUMBER_TYPES = (INTEGER, FLOAT, DATE, CATEGORY)
# (numpy type, "." , step to .a, .b, ...) of each codebook type's storage type
_STORAGE = {INTEGER: ("<i2", 32_741, 1),
            CATEGORY: ("<i1", 101, 1),
            FLOAT: ("<u8", 0x7FE0_0000_0000_0000, 1 << 40),
            DATE: ("<u8", 0x7FE0_0000_0000_0000, 1 << 40)}


def _missing(column: Column, reason: Any) -> int:
    _, base, step = _STORAGE[column.type]
    return base + (LETTERS.index(reason.letter) + 1) * step if reason else base


def _stata_values(column: Column, cells: Sequence[Any], reasons: list[dict]) -> Any:
    """One column of a chunk as its Stata storage values (bytes for a string column)."""
    if column.type not in _NUMBER_TYPES:
        return [("" if c is None else str(c)).encode() for c in cells]
    blank = (None, "")
    name = column.name
    if column.type == CATEGORY:
        codes = {code: number for number, (code, _) in enumerate(column.categories, 1)}
        values = [codes.get(c) for c in cells]
    elif column.type == INTEGER:
        values = [None if c in blank else int(c) for c in cells]
    elif column.type == FLOAT:
        values = [None if c in blank else float(c) for c in cells]
    else:
        values = [None if c in blank else
                  ((c if isinstance(c, dt.date) else dt.date.fromisoformat(str(c)))
                   - _EPOCH).days for c in cells]
    dtype = _STORAGE[column.type][0]
    if column.type in (FLOAT, DATE):  # doubles as their bit patterns
        doubles = np.array([np.nan if v is None else v for v in values], dtype="<f8")
        out = doubles.view("<u8").copy()
    else:
        out = np.array([0 if v is None else v for v in values], dtype=dtype)
    for row, value in enumerate(values):
        if value is None:
            out[row] = _missing(column, reasons[row].get(name))
    return out


def _template(kept: Sequence[Column], widths: dict[str, int]) -> pd.DataFrame:
    """One row whose columns pandas stores as the chunks' values are (its data is
    replaced): nullable Int16 and Int8, doubles, dates, strings of the final widths."""
    data = {}
    for column in kept:
        if column.type == INTEGER:
            data[column.name] = pd.array([1], dtype="Int16")
        elif column.type == CATEGORY:
            data[column.name] = pd.array([1], dtype="Int8")
        elif column.type == FLOAT:
            data[column.name] = np.array([1.0])
        elif column.type == DATE:
            data[column.name] = pd.to_datetime(pd.Series(["2000-01-01"], dtype=object))
        else:
            data[column.name] = np.array(["x" * widths[column.name]], dtype=object)
    return pd.DataFrame(data)


def _record_dtype(kept: Sequence[Column], widths: dict[str, int]) -> np.dtype:
    return np.dtype([(f"f{index}", f"S{widths[column.name]}" if column.name in widths
                      else _STORAGE[column.type][0])
                     for index, column in enumerate(kept)])


def _replace_data(handle: IO[bytes], spool: IO[bytes], count: int,
                  kept: Sequence[Column], widths: dict[str, int]) -> None:
    """The template's one record replaced by the spooled ones; N and the map set."""
    handle.seek(0)
    template = handle.read()
    map_at = template.index(b"<map>") + len(b"<map>")
    offsets = list(struct.unpack("<14Q", template[map_at:map_at + 14 * 8]))
    data_at = offsets[9] + len(b"<data>")
    record = _record_dtype(kept, widths)
    end_of_data = data_at + record.itemsize
    assert template[end_of_data:end_of_data + len(b"</data>")] == b"</data>"
    shift = (count - 1) * record.itemsize
    offsets[10:] = [offset + shift for offset in offsets[10:]]
    head = bytearray(template[:data_at])
    head[map_at:map_at + 14 * 8] = struct.pack("<14Q", *offsets)
    n_at = head.index(b"<N>") + len(b"<N>")
    head[n_at:n_at + 8] = struct.pack("<Q", count)
    handle.seek(0)
    handle.truncate()
    handle.write(head)
    for _ in range((count + CHUNK_ROWS - 1) // CHUNK_ROWS):
        chunk = pickle.load(spool)
        records = np.empty(len(chunk[0]), dtype=record)
        for index, values in enumerate(chunk):
            records[f"f{index}"] = values
        handle.write(records.tobytes())
    handle.write(template[end_of_data:])


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
