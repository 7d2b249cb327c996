"""The maximum-variation proposal: which completers to invite for an interview.

The proposal covers increased, unchanged and lowered overall ability (PIH overall) and a
mix of clinics and characteristics, as the study's purposive sampling did.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .classify import Table3Row
from .constants import CATEGORIES, MIX_ATTRIBUTES, OVERALL


def max_variation(rows: Sequence[Table3Row], *, size: int,
                  already: Iterable[str] = (), exclude: Iterable[str] = ()) -> list[Table3Row]:
    """Propose `size` patients covering every overall-ability category that exists.

    Greedy and deterministic: patients already invited or interviewed are kept; then,
    while an overall category (increased, unchanged, lowered) is missing and has
    candidates, the next pick comes from it; otherwise the pick adds the most characteristic
    values not yet in the sample (clinic, gender, ethnicity, education, age band, years of
    pain, pain sites, change in pain), ties going to the least represented overall
    category and then to the study ID. Patients in `exclude` (declined) are never proposed.
    """
    pool = CandidatePool.build(
        [row.study_id for row in rows],
        {name: [row.attribute(name) for row in rows] for name in MIX_ATTRIBUTES},
        [row.changes.get(OVERALL) for row in rows])
    by_id = {row.study_id: row for row in rows}
    return [by_id[study_id] for study_id in pool.propose(size=size, already=already,
                                                         exclude=exclude)]


@dataclass(frozen=True)
class CandidatePool:
    """Completers as integer codes, sorted by study ID, for a vectorised greedy proposal.

    `attributes[:, j]` codes the j-th MIX_ATTRIBUTES value (-1: empty, never new);
    `overall` codes the change in overall ability by its index in CATEGORIES (-1: none).
    """
    study_ids: np.ndarray
    attributes: np.ndarray
    overall: np.ndarray

    @classmethod
    def build(cls, study_ids: Sequence[str], attributes: Mapping[str, Sequence[str]],
              overall: Sequence[str | None]) -> CandidatePool:
        order = np.argsort(np.array(study_ids, dtype=str), kind="stable")
        columns = [codes(np.asarray(attributes[name], dtype=object)[order])
                   for name in MIX_ATTRIBUTES]
        index = {category: i for i, category in enumerate(CATEGORIES)}
        overall_codes = np.array([index.get(c, -1) for c in overall], dtype=np.int64)[order]
        return cls(np.array(study_ids, dtype=object)[order],
                   np.column_stack(columns) if columns else np.empty((len(order), 0), int),
                   overall_codes)

    def propose(self, *, size: int, already: Iterable[str] = (),
                exclude: Iterable[str] = ()) -> list[str]:
        """Study IDs in the order max_variation() picks them (its docstring has the rule)."""
        ids = pd.Index(self.study_ids)           # hashed look-ups (np.isin sorts objects)
        excluded = ids.isin(list(set(exclude)))
        kept = ids.isin(list(set(already))) & ~excluded
        chosen = [int(i) for i in np.flatnonzero(kept)]
        available = ~kept & ~excluded & (self.overall >= 0)
        seen = [np.zeros(int(column.max(initial=-1)) + 2, dtype=bool)
                for column in self.attributes.T]
        new = np.zeros(len(self.study_ids), dtype=np.int64)
        for j, column in enumerate(self.attributes.T):
            seen[j][-1] = True                      # code -1 (empty) is never new
            for value in set(column[chosen].tolist()):
                seen[j][value] = True
            new += ~seen[j][column]
        overall_counts = np.bincount(self.overall[chosen][self.overall[chosen] >= 0],
                                     minlength=len(CATEGORIES))
        while len(chosen) < size and available.any():
            pick = self._next_pick(available, new, overall_counts)
            chosen.append(pick)
            available[pick] = False
            overall_counts[self.overall[pick]] += 1
            for j, column in enumerate(self.attributes.T):
                value = column[pick]
                if not seen[j][value]:
                    seen[j][value] = True
                    new -= column == value
        return [str(self.study_ids[i]) for i in chosen]

    def _next_pick(self, available: np.ndarray, new: np.ndarray,
                   overall_counts: np.ndarray) -> int:
        missing = [c for c in range(len(CATEGORIES)) if not overall_counts[c]
                   and (available & (self.overall == c)).any()]
        pool = available & (self.overall == missing[0]) if missing else available
        # Most new values first, then the least represented category; argmax takes the
        # first of equals, which is the lowest study ID (the pool is sorted by it).
        rank = new * (len(self.study_ids) + 1) - overall_counts[self.overall]
        return int(np.argmax(np.where(pool, rank, np.iinfo(np.int64).min)))


def codes(values: np.ndarray) -> np.ndarray:
    """Integer codes of strings; empty and missing values are -1."""
    result, _ = pd.factorize(values)              # None and NaN are already -1
    result[np.asarray(values == "", dtype=bool)] = -1
    return result.astype(np.int64)
