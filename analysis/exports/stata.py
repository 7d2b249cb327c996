"""Stata .dta files (format 118), typed and labelled from the codebook.

The .dta cannot stream (the format needs the row count and string widths up front): it is
built column by column in batches and sent from a temporary file.
"""
from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from questionnaires.cohort_files.batching import batched

from .codebook import CATEGORY, DATE, FLOAT, INTEGER, Column
from .snippets import stata_label


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
        variable_labels={c.name: stata_label(c.label) for c in columns},
        value_labels=value_labels)
    handle.seek(0)
    return handle, len(frame)
