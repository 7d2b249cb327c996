"""Predicted random effects (BLUPs), conditional fitted values and residuals of a fit.

For a random intercept u_c per clinic and u_j per patient (within clinic), r = y - X b and
V = sigma2 I + s_p Z_p Z_p' + s_c 1 1' per clinic, the BLUPs are u = G Z' V^-1 r. V^-1 is
never formed: with A = sigma2 I + s_p Z_p Z_p' (block-diagonal by patient),
1_j' A^-1 v = S_j(v) / (sigma2 + n_j s_p) (S_j: the sum over patient j's rows), so

  u_c = s_c sum_j S_j(r) / (sigma2 + n_j s_p) / (1 + s_c sum_j n_j / (sigma2 + n_j s_p))
  u_j = s_p (S_j(r) - n_j u_c) / (sigma2 + n_j s_p)     (E[u_j | y] through E[u_j | y, u_c])

which is O(n) at any cohort size. With one fitted level the clinic term is absent; a
dropped level (or a variance at 0) has every effect 0. statsmodels' `MixedLM.random_effects`
computes the same quantities (checked in analysis/tests/test_multilevel_effects.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy

from .design import build_design
from .nesting import _level_codes, nest
from .result import NestedFit


@dataclass(frozen=True)
class Effects:
    """Per observation (the fit's complete rows, in data order) and per group."""

    fitted: np.ndarray  # X b + predicted effects (conditional fitted values)
    residuals: np.ndarray  # y - fitted (conditional residuals)
    marginal_fitted: np.ndarray  # X b
    levels: dict[str, pd.Series]  # level -> predicted effect per group
    # clinic: indexed by clinic label; patient: by (clinic label, patient label)


def group_effects(residual: np.ndarray, inner: np.ndarray, outer_of_inner: np.ndarray | None,
                  var_inner: float, var_outer: float, sigma2: float
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """BLUPs of the inner groups and (two levels) of the outer groups, from r = y - X b.

    `inner` is the inner group code (0..J-1) of each row, `outer_of_inner` the outer group
    of each inner group (None with one level).
    """
    sums = np.bincount(inner, weights=residual)
    sizes = np.bincount(inner, minlength=len(sums)).astype(float)
    denominator = sigma2 + sizes * var_inner
    outer = None
    shifted = sums
    if outer_of_inner is not None:
        n_outer = int(outer_of_inner.max()) + 1
        top = np.bincount(outer_of_inner, weights=sums / denominator, minlength=n_outer)
        weight = np.bincount(outer_of_inner, weights=sizes / denominator, minlength=n_outer)
        outer = var_outer * top / (1.0 + var_outer * weight)
        shifted = sums - sizes * outer[outer_of_inner]
    return var_inner * shifted / denominator, outer


def predicted_effects(data: pd.DataFrame, fit: NestedFit) -> Effects:
    """The BLUPs of every level of `fit` (fitted to `data`), fitted values and residuals."""
    design = build_design(data, fit.formula, fit.levels, patsy.EvalEnvironment.capture(1))
    beta = fit.fixed["coef"].reindex(design.terms).to_numpy(float)
    return effects_at(design.frame, design.y, design.X, fit.levels, beta, fit.variances)


def effects_at(frame: pd.DataFrame, y: np.ndarray, X: np.ndarray, levels: list[str],
               beta: np.ndarray, variances: dict[str, float]) -> Effects:
    """The same at given coefficients and variances (e.g. another program's estimates)."""
    nesting = nest(frame, levels)
    codes = _level_codes(frame, levels)
    marginal = X @ beta
    residual = y - marginal
    fitted = marginal.copy()
    out: dict[str, pd.Series] = {}
    sigma2 = variances["residual"]
    per_level = {level: np.zeros(nesting.n_groups[level]) for level in levels}
    if nesting.fitted:
        inner_level = nesting.fitted[-1]
        outer_level = nesting.fitted[0] if len(nesting.fitted) == 2 else None
        inner, outer = group_effects(
            residual, nesting.inner, nesting.outer_of_inner, variances[inner_level],
            variances[outer_level] if outer_level else 0.0, sigma2)
        per_level[inner_level] = inner
        if outer_level is not None:
            per_level[outer_level] = outer
    for level, level_codes in zip(levels, codes, strict=True):
        fitted += per_level[level][level_codes]
        out[level] = pd.Series(per_level[level], index=_labels(frame, levels, level,
                                                               level_codes), name=level)
    return Effects(fitted, y - fitted, marginal, out)


def _labels(frame: pd.DataFrame, levels: list[str], level: str, codes: np.ndarray
            ) -> pd.Index:
    """Each group's label: the level's own, with the outer label for an inner level."""
    first = np.unique(codes, return_index=True)[1]
    if level == levels[0]:
        return pd.Index(frame[level].to_numpy()[first], name=level)
    return pd.MultiIndex.from_arrays([frame[levels[0]].to_numpy()[first],
                                      frame[level].to_numpy()[first]], names=levels)
