"""The wide file: one row per patient, each score at baseline, at follow-up and the change."""
from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from questionnaires.cohort_files.columns import EXPORT_COLUMNS
from questionnaires.instruments import SCORE_CODES

from .codebook import WIDE_PATIENT_COLUMNS


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
