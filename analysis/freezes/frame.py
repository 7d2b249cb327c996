"""The analysis frame of a freeze, built from the frozen cohort CSV's bytes.

Everything the tables read from the cohort file (characteristics, timepoints, dates and
the scores, at the file's 2 decimals) is parsed from the frozen bytes, so anyone holding
the cited file refits the same numbers. The file does not carry the patient's follow-up
status and loss reason (the attrition table), the consent date or the row's scoring
version: those come from the live frame read in the same database snapshot, matched by
study ID and timepoint, and the two must hold exactly the same rows.
"""
from __future__ import annotations

import io

import pandas as pd

from questionnaires.cohort_files.columns import EXPORT_COLUMNS

from ..stats.cohort import COLUMNS, _typed

KEY = ["study_id", "timepoint"]
# What the analysis frame needs beyond the cohort file's columns.
NOT_IN_FILE = [name for name in COLUMNS if name not in EXPORT_COLUMNS]


class FrozenRowsMismatch(RuntimeError):
    """The cohort file and the analysis frame of one snapshot hold different rows."""


def file_frame(data: bytes) -> pd.DataFrame:
    """The frozen cohort CSV as text columns (empty cell = "")."""
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False,
                       encoding="utf-8")


def frozen_frame(data: bytes, live: pd.DataFrame) -> pd.DataFrame:
    """The analysis frame (analysis.stats.cohort.COLUMNS, typed as load_cohort types it)
    of the frozen file `data`, completed from `live` (load_cohort() of the same snapshot).
    """
    rows = file_frame(data)
    extra = live[[*KEY, *(n for n in NOT_IN_FILE if n not in KEY)]]
    _check_same_rows(rows, extra)
    frame = rows.merge(extra, on=KEY, how="left", validate="one_to_one")
    return _typed(frame[list(COLUMNS)].copy())


def _check_same_rows(rows: pd.DataFrame, live: pd.DataFrame) -> None:
    file_keys = set(map(tuple, rows[KEY].to_numpy().tolist()))
    live_keys = set(map(tuple, live[KEY].to_numpy().tolist()))
    if len(file_keys) != len(rows) or file_keys != live_keys:
        raise FrozenRowsMismatch(
            f"The cohort file ({len(rows)} rows) and the analysis data ({len(live)} rows) "
            f"of one snapshot differ ({len(file_keys ^ live_keys)} rows in only one): "
            "nothing frozen.")
