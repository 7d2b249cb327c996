"""Table 3 of Fu et al. (2018): each interviewee's change classified.

The paper classifies each interviewee's change in pain severity and in each PIH score as
increased, unchanged or lowered, without stating the rule. The rule here (configurable): a
change no larger than `sd_fraction` (default one half) of the score's baseline standard
deviation among completers is "unchanged"; the boundary itself counts as unchanged. Half an
SD is a common threshold for a minimally important difference (Norman, Sloan, Wyrwich 2003).
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from questionnaires.instruments import PIH_SCORE_CODES

from ..stats.cohort import PAIN_SITES_GROUPS, PAIN_YEARS_GROUPS, pain_sites_group, pain_years_group
from .constants import (
    CATEGORIES,
    CLASSIFIED_SCORES,
    DEFAULT_SD_FRACTION,
    INCREASED,
    LOWERED,
    PAIN_SEVERITY,
    UNCHANGED,
)

YEARS_LABELS, SITES_LABELS = dict(PAIN_YEARS_GROUPS), dict(PAIN_SITES_GROUPS)


def classify(change: float | None, threshold: float) -> str | None:
    """increased / unchanged / lowered; |change| <= threshold is unchanged; None if missing."""
    if change is None or threshold is None or (isinstance(change, float) and math.isnan(change)):
        return None
    if abs(change) <= threshold + tolerance(threshold):
        return UNCHANGED
    return INCREASED if change > 0 else LOWERED


def tolerance(threshold: float) -> float:
    """The boundary is unchanged; the tolerance keeps it so after float arithmetic (a change
    computed as 40 + sd/2 - 40 may exceed sd/2 in the last bit)."""
    return 1e-9 * max(1.0, threshold)


def classify_codes(changes: Any, threshold: float | None) -> np.ndarray:
    """classify() of every change at once, as indices into CATEGORIES (-1: missing)."""
    values = np.asarray(pd.Series(changes, dtype="float64"))
    codes = np.full(len(values), -1, dtype=np.int64)
    if threshold is None:
        return codes
    bound = threshold + tolerance(threshold)
    codes[values > bound] = CATEGORIES.index(INCREASED)
    codes[values < -bound] = CATEGORIES.index(LOWERED)
    codes[np.abs(values) <= bound] = CATEGORIES.index(UNCHANGED)
    return codes


def thresholds(completers: pd.DataFrame, *, sd_fraction: float) -> dict[str, float | None]:
    """sd_fraction x the baseline SD (n - 1) of each classified score among completers."""
    result: dict[str, float | None] = {}
    for code in CLASSIFIED_SCORES:
        sd = completers[f"baseline_{code}"].std(ddof=1)
        result[code] = None if pd.isna(sd) else sd_fraction * float(sd)
    return result


def age_band(age: float | None) -> str:
    if age is None or pd.isna(age):
        return ""
    low = int(age) // 15 * 15
    return f"{low}-{low + 14}"


@dataclass(frozen=True)
class Table3Row:
    study_id: str
    clinic: str
    age: int | None
    gender: str
    ethnicity: str
    education: str
    pain_years: int | None
    pain_sites: int | None
    pain_years_group: str
    pain_sites_group: str
    changes: Mapping[str, str | None]        # score code -> category
    deltas: Mapping[str, float | None]       # score code -> follow-up minus baseline

    @property
    def characteristics(self) -> list[str]:
        """Gender, ethnicity and education as labelled in Table 1 (codes in the CSV)."""
        from patients.models import Education, Ethnicity, Gender

        return [dict(choices.choices).get(value, value) for choices, value in
                ((Gender, self.gender), (Ethnicity, self.ethnicity), (Education, self.education))]

    @property
    def pain_change(self) -> str | None:
        return self.changes.get(PAIN_SEVERITY)

    @property
    def pih_changes(self) -> list[str | None]:
        """PIH domains then overall, as Table 3 lists them after the pain columns."""
        return [self.changes.get(code) for code in PIH_SCORE_CODES]

    @property
    def pain_years_label(self) -> str:
        return YEARS_LABELS.get(self.pain_years_group, "")

    @property
    def pain_sites_label(self) -> str:
        return SITES_LABELS.get(self.pain_sites_group, "")

    def attribute(self, name: str) -> str:
        if name == "age_band":
            return age_band(self.age)
        if name.startswith("change_"):
            return self.changes.get(name.removeprefix("change_")) or ""
        return str(getattr(self, name) or "")


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def table3(completers: pd.DataFrame, *, sd_fraction: float = DEFAULT_SD_FRACTION
           ) -> tuple[list[Table3Row], dict[str, float | None]]:
    """Every completer classified; also returns the thresholds used, by score."""
    limits = thresholds(completers, sd_fraction=sd_fraction)
    return table3_rows(completers.to_dict("records"), limits), limits


def table3_rows(records: Sequence[Mapping[str, Any]], limits: Mapping[str, float | None]
                ) -> list[Table3Row]:
    """Table 3 rows from characteristics and baseline_/followup_ scores, classified with
    the given thresholds; the pain groups are the paper's (analysis.stats.cohort's rule)."""
    if not records:
        return []
    frame = pd.DataFrame.from_records(list(records))
    years = pain_years_group(pd.to_numeric(frame["pain_years"], errors="coerce"))
    sites = pain_sites_group(pd.to_numeric(frame["pain_sites"], errors="coerce"))
    rows = []
    for record, years_group, sites_group in zip(records, years, sites, strict=True):
        deltas = {code: _delta(record, code) for code in CLASSIFIED_SCORES}
        rows.append(Table3Row(
            study_id=record["study_id"], clinic=record["clinic"], age=_int(record["age"]),
            gender=record["gender"] or "", ethnicity=record["ethnicity"] or "",
            education=record["education"] or "", pain_years=_int(record["pain_years"]),
            pain_sites=_int(record["pain_sites"]),
            pain_years_group=years_group or "", pain_sites_group=sites_group or "",
            changes={code: classify(deltas[code], limits.get(code))
                     for code in CLASSIFIED_SCORES},
            deltas=deltas))
    return rows


def _delta(record: Mapping[str, Any], code: str) -> float | None:
    before, after = record[f"baseline_{code}"], record[f"followup_{code}"]
    if before is None or after is None or pd.isna(before) or pd.isna(after):
        return None
    return float(after) - float(before)


def category_counts(rows: Iterable[Table3Row]) -> dict[str, Counter]:
    """How many increased / unchanged / lowered, by score (missing not counted)."""
    counts: dict[str, Counter] = {code: Counter() for code in CLASSIFIED_SCORES}
    for row in rows:
        for code, category in row.changes.items():
            if category:
                counts[code][category] += 1
    return counts
