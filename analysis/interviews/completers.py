"""The completers as the interview page needs them, read again only after a data change."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..stats.cohort import NUMBER_CHARACTERISTICS, pain_sites_group, pain_years_group
from . import selectors
from .classify import Table3Row, age_band, classify_codes, table3_rows
from .constants import CATEGORIES, CLASSIFIED_SCORES, OVERALL, PAIN_SEVERITY, STATIC_ATTRIBUTES
from .proposal import CandidatePool, codes


@dataclass(frozen=True)
class CompleterData:
    """The completers as the interview page needs them, sorted by study ID: a frame of
    characteristics and baseline_/followup_ scores, the changes, and the coded
    characteristics of the proposal (those that do not depend on the rule)."""
    frame: pd.DataFrame
    deltas: Mapping[str, np.ndarray]
    static_codes: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[tuple], columns: Sequence[str]) -> CompleterData:
        frame = pd.DataFrame.from_records(list(rows), columns=list(columns))
        frame = frame.sort_values("study_id", kind="stable").reset_index(drop=True)
        numbers = [*NUMBER_CHARACTERISTICS,
                   *(name for name in frame.columns if name.startswith(("baseline_", "followup_")))]
        for name in numbers:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        deltas = {code: (frame[f"followup_{code}"] - frame[f"baseline_{code}"]).to_numpy()
                  for code in CLASSIFIED_SCORES}
        attributes = {
            "clinic": frame["clinic"], "gender": frame["gender"],
            "ethnicity": frame["ethnicity"], "education": frame["education"],
            "age_band": frame["age"].map(age_band),
            "pain_years_group": pain_years_group(frame["pain_years"]),
            "pain_sites_group": pain_sites_group(frame["pain_sites"])}
        coded = [codes(np.asarray(attributes[name], dtype=object))
                 for name in STATIC_ATTRIBUTES]
        return cls(frame, deltas, np.column_stack(coded) if len(frame) else
                   np.empty((0, len(STATIC_ATTRIBUTES)), dtype=np.int64))

    def pool(self, limits: Mapping[str, float | None]) -> CandidatePool:
        """The proposal's candidates: the static codes, then the change in pain (the order
        of MIX_ATTRIBUTES)."""
        pain = classify_codes(self.deltas[PAIN_SEVERITY], limits.get(PAIN_SEVERITY))
        return CandidatePool(self.frame["study_id"].to_numpy(dtype=object),
                             np.column_stack([self.static_codes, pain]),
                             classify_codes(self.deltas[OVERALL], limits.get(OVERALL)))

    def category_counts(self, limits: Mapping[str, float | None]) -> dict[str, dict[str, int]]:
        counts = {}
        for code in CLASSIFIED_SCORES:
            tally = np.bincount(classify_codes(self.deltas[code], limits.get(code)) + 1,
                                minlength=len(CATEGORIES) + 1)
            counts[code] = {category: int(tally[i + 1]) for i, category in enumerate(CATEGORIES)}
        return counts

    def rows(self, study_ids: Iterable[str], limits: Mapping[str, float | None]
             ) -> list[Table3Row]:
        """Table 3 rows of these completers (others are ignored), by study ID."""
        wanted = self.frame.loc[self.frame["study_id"].isin(list(study_ids))]
        return table3_rows(wanted.to_dict("records"), limits)


_latest: dict[str, tuple[tuple, CompleterData]] = {}


def completer_data() -> CompleterData:
    """The completers, read again only when the data version has changed."""
    version = selectors.data_version()
    cached = _latest.get("completers")
    if cached is not None and cached[0] == version:
        return cached[1]
    data = CompleterData.from_rows(selectors.completer_rows(), selectors.COLUMNS)
    _latest["completers"] = (version, data)
    return data
