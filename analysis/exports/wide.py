"""The wide file: one row per patient, each score at baseline, at follow-up and the change."""
from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from questionnaires.cohort_files.columns import EXPORT_COLUMNS, PATIENT_STATUS_COLUMNS
from questionnaires.cohort_files.missing import (
    NO_ADMINISTRATION,
    REASONS_COLUMN,
    Reason,
    parse_reasons,
    reasons_cell,
)
from questionnaires.instruments import SCORE_CODES

from .codebook import WIDE_PATIENT_COLUMNS, wide_score_name

_INDEX = {name: position for position, name in enumerate(EXPORT_COLUMNS)}


def _number(value: Any) -> Decimal | None:
    """A score cell as the decimal written (the rows' Decimal, or a CSV cell's text)."""
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _date(value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _reasons(row: Sequence[Any] | None) -> dict[str, Reason]:
    if row is None:
        return {}
    return parse_reasons(row[_INDEX[REASONS_COLUMN]] or "")


def wide_rows(rows: Iterable[Sequence[Any]]) -> Iterator[list[Any]]:
    """One row per patient from cohort rows ordered by patient (baseline, follow-up).

    The changes are follow-up minus baseline of the written (rounded) scores, so exact;
    empty when either is missing. missing_reasons gives every empty cell's reason; the
    patient's follow-up status and lost reason come after it (added later).
    """
    for _, patient_rows in itertools.groupby(rows, key=lambda row: row[_INDEX["study_id"]]):
        by_timepoint = {row[_INDEX["timepoint"]]: row for row in patient_rows}
        first = next(iter(by_timepoint.values()))
        baseline, followup = by_timepoint.get("baseline"), by_timepoint.get("followup")
        first_reasons = _reasons(first)
        missing: list[tuple[str, Reason]] = []
        wide: list[Any] = []
        for name in WIDE_PATIENT_COLUMNS:
            wide.append(first[_INDEX[name]])
            if name in first_reasons:
                missing.append((name, first_reasons[name]))
        dates = [_date(row[_INDEX["administered_on"]]) if row else None
                 for row in (baseline, followup)]
        wide.extend(dates)
        missing += [(f"{suffix}_date", NO_ADMINISTRATION)
                    for suffix, on in zip(("bl", "fu"), dates, strict=True) if on is None]
        wide.append((dates[1] - dates[0]).days if all(dates) else None)
        if not all(dates):
            missing.append(("days_to_followup", NO_ADMINISTRATION))
        reasons = (_reasons(baseline), _reasons(followup))
        for code in SCORE_CODES:
            values, whys = [], []
            for suffix, row, row_reasons in zip(("bl", "fu"), (baseline, followup), reasons,
                                                strict=True):
                value = _number(row[_INDEX[code]]) if row else None
                why = None if value is not None else row_reasons.get(code, NO_ADMINISTRATION)
                values.append(value)
                whys.append(why)
                if why is not None:
                    missing.append((wide_score_name(code, suffix), why))
            change = None if None in values else values[1] - values[0]
            if change is None:
                missing.append((wide_score_name(code, "chg"), whys[0] or whys[1]))
            wide.extend([*values, change])
        wide.append(reasons_cell(missing))  # visited in column order
        wide.extend(first[_INDEX[name]] for name in PATIENT_STATUS_COLUMNS)  # appended later
        yield wide

