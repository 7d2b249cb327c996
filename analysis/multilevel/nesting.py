"""Group codes for up to two nested levels, and which of them the data can identify."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .result import FitError


@dataclass(frozen=True)
class Nesting:
    """The levels that are fitted (outermost first) and their group codes.

    `inner` gives the code of the innermost fitted level for every observation;
    `outer_of_inner` gives, when two levels are fitted, the outer group of each inner one.
    """

    fitted: list[str]
    dropped: list[str]
    n_groups: dict[str, int]
    inner: np.ndarray | None
    outer_of_inner: np.ndarray | None
    warnings: list[str]


def nest(frame: pd.DataFrame, levels: Sequence[str]) -> Nesting:
    """Code the groups; drop levels whose variance the data cannot identify."""
    if not 1 <= len(levels) <= 2 or len(set(levels)) != len(levels):
        raise FitError(f"levels must be one or two distinct column names, got {levels!r}")
    codes = _level_codes(frame, levels)
    n_groups = {level: int(c.max()) + 1 for level, c in zip(levels, codes, strict=True)}
    keep, warnings = _identifiable(levels, n_groups, len(frame))
    fitted = [level for level, k in zip(levels, keep, strict=True) if k]
    dropped = [level for level, k in zip(levels, keep, strict=True) if not k]
    kept_codes = [c for c, k in zip(codes, keep, strict=True) if k]
    inner = kept_codes[-1] if kept_codes else None
    outer_of_inner = None
    if len(kept_codes) == 2:
        outer_of_inner = np.empty(n_groups[fitted[1]], dtype=np.intp)
        outer_of_inner[kept_codes[1]] = kept_codes[0]
    return Nesting(fitted, dropped, n_groups, inner, outer_of_inner, warnings)


def _level_codes(frame: pd.DataFrame, levels: Sequence[str]) -> list[np.ndarray]:
    """Codes 0..G-1 per level; an inner label counts as new in every outer group.

    Outer codes follow the sorted labels, so that the outer groups' sums are formed in the
    same order whatever the order of the rows (a shuffle must not change the fit).
    """
    outer, _ = pd.factorize(frame[levels[0]], sort=True)
    codes = [outer.astype(np.int64)]
    if len(levels) == 2:
        raw, uniques = pd.factorize(frame[levels[1]])
        nested, _ = pd.factorize(codes[0] * len(uniques) + raw)
        codes.append(nested.astype(np.int64))
    return codes


def _identifiable(
    levels: Sequence[str], n_groups: dict[str, int], n_obs: int
) -> tuple[list[bool], list[str]]:
    """Which levels can be fitted, innermost first, each judged against the one below."""
    keep = [True] * len(levels)
    warnings: list[str] = []
    below, below_count = "observation", n_obs
    for i in reversed(range(len(levels))):
        level, count = levels[i], n_groups[levels[i]]
        if count == 1:
            keep[i] = False
            warnings.append(
                f"only one {level} in the data: its variance cannot be estimated, so the "
                f"model was fitted without the {level} level (its variance is reported as 0)"
            )
        elif count == below_count:
            keep[i] = False
            other = "residual" if below == "observation" else below
            warnings.append(
                f"every {level} has a single {below}: the {level} variance cannot be told "
                f"apart from the {other} variance, so the model was fitted without the "
                f"{level} level (its variance is reported as 0)"
            )
        else:
            below, below_count = level, count
    return keep, warnings
