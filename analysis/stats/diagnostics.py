"""Compact summaries of a fit's residuals and predicted effects, enough to draw its plots.

A run stores these, not the data: at 100,000 patients a model has ~110,000 residuals and
100,000 patient effects, and the run's JSON must stay small. Per model:

- residuals against fitted values: at most MAX_POINTS points (the EXTREME largest |residual|
  and a seeded random sample of the rest, so that the same data give the same plot) and
  the residuals' mean, 5th and 95th percentiles in BINS bins of the fitted values (the
  plot's data table, and the shape where points were sampled);
- normal Q-Q of the residuals and of each level's predicted effects (BLUPs): every sorted
  value against its normal quantile (Blom's positions (i - 3/8) / (n + 1/4)) up to
  MAX_QQ values, else MAX_QQ quantiles of the values at evenly spaced positions.

Residuals and fitted values are conditional (on the predicted effects). Numbers are rounded
to 4 significant digits: the plots cannot show more.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import norm

from ..multilevel import NestedFit
from ..multilevel.effects import Effects

MAX_POINTS = 400
EXTREME = 40
BINS = 10
MAX_QQ = 100
SEED = 19
QQ_LABELS = {"residual": "Residuals", "clinic": "Clinic effects (BLUPs)",
             "patient": "Patient effects (BLUPs)"}


def _round(values: np.ndarray) -> list[float]:
    return [float(f"{v:.4g}") for v in np.asarray(values, float)]


def scatter_points(fitted: np.ndarray, residuals: np.ndarray) -> tuple[list[list[float]], bool]:
    """At most MAX_POINTS (fitted, residual) pairs: the largest |residual| and a sample."""
    n = len(residuals)
    if n <= MAX_POINTS:
        chosen = np.arange(n)
    else:
        order = np.argsort(-np.abs(residuals), kind="stable")
        extreme, rest = order[:EXTREME], order[EXTREME:]
        sample = np.random.default_rng(SEED).choice(rest, MAX_POINTS - EXTREME, replace=False)
        chosen = np.sort(np.concatenate([extreme, sample]))
    return [[a, b] for a, b in zip(_round(fitted[chosen]), _round(residuals[chosen]),
                                   strict=True)], n > MAX_POINTS


def residual_bins(fitted: np.ndarray, residuals: np.ndarray) -> list[dict[str, Any]]:
    """Residuals by tenths of the fitted values: n, mean, 5th and 95th percentile."""
    if not len(fitted):
        return []
    edges = np.unique(np.quantile(fitted, np.linspace(0, 1, BINS + 1)))
    which = np.clip(np.searchsorted(edges, fitted, side="right") - 1, 0, len(edges) - 2) \
        if len(edges) > 1 else np.zeros(len(fitted), int)
    out = []
    for k in range(max(len(edges) - 1, 1)):
        values = residuals[which == k]
        if not len(values):
            continue
        p05, p95 = np.percentile(values, [5, 95])
        out.append({"fitted_low": _round([edges[k]])[0],
                    "fitted_high": _round([edges[min(k + 1, len(edges) - 1)]])[0],
                    "n": int(len(values)), "mean": _round([values.mean()])[0],
                    "p05": _round([p05])[0], "p95": _round([p95])[0]})
    return out


def qq_points(values: np.ndarray) -> list[list[float]]:
    """(normal quantile, value) pairs: every value up to MAX_QQ, else MAX_QQ quantiles."""
    values = np.sort(np.asarray(values, float))
    n = len(values)
    if not n:
        return []
    if n <= MAX_QQ:
        positions = (np.arange(1, n + 1) - 0.375) / (n + 0.25)
        sample = values
    else:
        # quantiles at the Blom positions of MAX_QQ evenly spaced order statistics
        ranks = np.linspace(1, n, MAX_QQ)
        positions = (ranks - 0.375) / (n + 0.25)
        sample = np.interp(ranks - 1, np.arange(n), values)
    return [[a, b] for a, b in zip(_round(norm.ppf(positions)), _round(sample), strict=True)]


def diagnostics_summary(effects: Effects, fit: NestedFit) -> dict[str, Any]:
    """The stored "diagnostics" of a model (results.py, schema 3)."""
    points, sampled = scatter_points(effects.fitted, effects.residuals)
    sigma = float(np.sqrt(fit.variances["residual"]))
    qq = [{"key": "residual", "label": QQ_LABELS["residual"], "n": int(len(effects.residuals)),
           "sd": _round([effects.residuals.std()])[0], "points": qq_points(effects.residuals)}]
    for level, series in effects.levels.items():
        if level in fit.dropped_levels:
            continue
        values = series.to_numpy(float)
        qq.append({"key": level, "label": QQ_LABELS.get(level, f"{level} effects (BLUPs)"),
                   "n": int(len(values)), "sd": _round([values.std()])[0],
                   "points": qq_points(values),
                   "zero": bool(fit.variances.get(level, 0.0) == 0.0)})
    return {"note": None,
            "residuals": {"n": int(len(effects.residuals)), "sigma": _round([sigma])[0],
                          "points": points, "sampled": sampled,
                          "bins": residual_bins(effects.fitted, effects.residuals)},
            "qq": qq}
