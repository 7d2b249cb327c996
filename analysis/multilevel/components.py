"""Variance components: likelihood-ratio tests per level and profile-likelihood CIs.

`variance_component_tests(data, formula, levels, reml=False)`: for each level, the model
refitted without it (same rows, same fixed effects) and LRT = 2 (loglik - loglik without).
The variance is 0 under the null, on the boundary of its range, so the p-value is that of
the 50:50 mixture of chi-square(0) and chi-square(1) (Self & Liang 1987): 0.5 P(chi2_1 >
LRT), 1 where LRT is 0. With REML both fits have the same X, so their REML likelihoods
compare. AIC and BIC of the full model and of each reduced one come with it.

`profile_intervals(data, formula, levels, reml=False)`: 95 % profile-likelihood CIs for
each fitted level's variance, the residual variance and each ICC (Stata's: level k pools
levels 1..k): the values where the deviance, minimised over the other parameters, rises
by chi2_1(0.95) = 3.84 over its minimum; a bound at the edge of the range (0, or 1 for an
ICC) where the rise never reaches it.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy
from scipy.optimize import brentq, minimize, minimize_scalar
from scipy.stats import chi2

from .fit import fit_nested, prepare
from .likelihood import SufficientStats, deviance, gls
from .result import NestedFit

CRITICAL = float(chi2.ppf(0.95, 1))
# Relative rounding of a log-likelihood: an LRT below it is 0.
ROUNDING = 1e-10
# A parameter's profile is searched up to this multiple of its estimate (or of the total
# variance, for a level estimated at 0) for the upper bound.
SEARCH_LIMIT = 1e6
# Stands for an infinite deviance (outside the range, or numerically singular), finite so
# that the optimisers and root finders can compare it.
HUGE = 1e300
# An ICC's profile is evaluated up to 1 - ICC_EDGE (at 1 the residual variance is 0).
ICC_EDGE = 1e-6


@dataclass(frozen=True)
class LevelTest:
    level: str
    statistic: float
    p: float
    loglik_without: float
    aic_without: float
    bic_without: float
    note: str | None = None


@dataclass(frozen=True)
class ComponentTests:
    fit: NestedFit
    tests: dict[str, LevelTest]
    aic: float
    bic: float


def boundary_p(statistic: float) -> float:
    """p of the 50:50 chi-bar-square mixture of chi2_0 and chi2_1."""
    return 1.0 if statistic <= 0 else 0.5 * float(chi2.sf(statistic, 1))


def variance_component_tests(data: pd.DataFrame, formula: str, levels: Sequence[str],
                             reml: bool = False) -> ComponentTests:
    """The fit, and an LRT for each level against the model without it."""
    levels = [levels] if isinstance(levels, str) else list(levels)
    frame = data.dropna(subset=levels)
    full = fit_nested(frame, formula, levels, reml=reml)
    tests = {level: _test(frame, formula, levels, level, full, reml) for level in levels}
    return ComponentTests(full, tests, full.aic, full.bic)


def _without(frame: pd.DataFrame, levels: list[str], level: str) -> tuple[pd.DataFrame, list]:
    """The data and levels of the model without `level`; an inner level that stays is
    made unique across the outer groups (its labels need only be unique within them)."""
    rest = [name for name in levels if name != level]
    if not rest:
        # no level left: every row its own group, which the fitter drops (an OLS fit)
        return frame.assign(__row__=np.arange(len(frame))), ["__row__"]
    if level == levels[0] and len(levels) == 2:
        key = frame.groupby(levels, sort=False).ngroup()
        return frame.assign(__inner__=key.to_numpy()), ["__inner__"]
    return frame, rest


def _test(frame, formula, levels, level, full: NestedFit, reml: bool) -> LevelTest:
    data, rest = _without(frame, levels, level)
    reduced = fit_nested(data, formula, rest, reml=reml)
    statistic = 2.0 * (full.loglik - reduced.loglik)
    # a level estimated at 0 gives the reduced fit: the difference is rounding
    if statistic < ROUNDING * max(1.0, abs(full.loglik)):
        statistic = 0.0
    note = None
    if level in full.dropped_levels:
        note = f"the {level} level could not be fitted (see the fit's warnings): no test"
        statistic, p = math.nan, math.nan
    else:
        p = boundary_p(statistic)
    if not (full.converged and reduced.converged):
        note = "a fit did not converge: the test is not valid"
    return LevelTest(level, statistic, p, reduced.loglik, reduced.aic, reduced.bic, note)


# --- profile-likelihood intervals ---------------------------------------------------


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    note: str | None = None


def full_deviance(stats: SufficientStats, variances: np.ndarray, reml: bool) -> float:
    """The deviance at level variances and residual variance (sigma2 not profiled)."""
    sigma2 = variances[-1]
    if sigma2 <= 0 or (variances < 0).any():
        return HUGE
    try:
        fit = gls(stats, variances[:-1] / sigma2)
    except np.linalg.LinAlgError:
        return HUGE
    dof = stats.n - stats.p if reml else stats.n
    dev = dof * math.log(2.0 * math.pi * sigma2) + fit.rss / sigma2 + fit.logdet_h
    return dev + fit.logdet_xhx if reml else dev


def profile_intervals(data: pd.DataFrame, formula: str, levels: Sequence[str],
                      reml: bool = False) -> dict[str, Interval]:
    """95 % profile-likelihood CIs: "variance:<level>", "variance:residual", "icc:<level>"."""
    levels = [levels] if isinstance(levels, str) else list(levels)
    _, nesting, _, _, _, stats = prepare(data, formula, levels, patsy.EvalEnvironment.capture(1))
    fit = fit_nested(data, formula, levels, reml=reml)
    fitted = nesting.fitted
    est = np.array([fit.variances[level] for level in fitted] + [fit.variances["residual"]])
    dev_min = full_deviance(stats, est, reml)
    out = {}
    names = [*fitted, "residual"]
    for i, name in enumerate(names):
        profile = _variance_profile(stats, reml, est, i)
        out[f"variance:{name}"] = _interval(profile, est[i], dev_min, est.sum(), None)
    for k, level in enumerate(fitted):
        profile = _icc_profile(stats, reml, len(fitted), k)
        icc = fit.icc[level]
        out[f"icc:{level}"] = _interval(profile, icc, dev_min, 1.0, 1.0)
    for level in nesting.dropped:
        note = f"the {level} level could not be fitted: no interval"
        out[f"variance:{level}"] = out[f"icc:{level}"] = Interval(0.0, math.nan, math.nan,
                                                                   note)
    return out


def _variance_profile(stats, reml, est: np.ndarray, i: int) -> Callable[[float], float]:
    """Deviance minimised over the other variances with variance i fixed."""
    free = [j for j in range(len(est)) if j != i]
    residual = len(est) - 1
    start = np.array([math.log(est[j]) if j == residual else math.sqrt(est[j])
                      for j in free])
    # brentq asks for values close to each other: the optimum at the last value starts the
    # next search (continuation) beside the estimate's start; the three spread starts only
    # for the first value of each side, where no neighbour is known yet. Values are kept,
    # so brentq's ends are evaluated once and the profile it sees is one function.
    last: dict[str, np.ndarray] = {}
    seen: dict[float, float] = {}

    def at(value: float) -> float:
        if value in seen:
            return seen[value]
        def dev(x: np.ndarray) -> float:
            v = np.empty(len(est))
            v[i] = value
            for j, xj in zip(free, x, strict=True):
                # the residual variance in logs (positive), level variances as sd (>= 0)
                v[j] = math.exp(xj) if j == residual else xj**2
            return full_deviance(stats, v, reml)
        side = "low" if value < est[i] else "high"
        starts = [last[side], start] if side in last else _starts(start, free, residual)
        best = min((minimize(dev, s, method="Nelder-Mead",
                             options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 4000})
                    for s in starts), key=lambda r: r.fun)
        last[side] = best.x
        seen[value] = float(best.fun)
        return seen[value]
    return at


def _starts(start: np.ndarray, free: list[int], residual: int) -> list[np.ndarray]:
    starts = [start]
    for scale in (0.3, 3.0):
        shifted = start.copy()
        for n, j in enumerate(free):
            shifted[n] = start[n] + math.log(scale) if j == residual else start[n] * scale + 0.1
        starts.append(shifted)
    return starts


def _safe_deviance(stats, ratios: np.ndarray, reml: bool) -> float:
    try:
        value = deviance(stats, ratios, reml)
    except np.linalg.LinAlgError:
        return HUGE
    return value if math.isfinite(value) else HUGE


def _icc_profile(stats, reml, k: int, level: int) -> Callable[[float], float]:
    """Deviance (sigma2 profiled) minimised over the split of the rest, ICC fixed."""
    deviance = _safe_deviance
    def ratios(rho: float, s: float) -> np.ndarray:
        if k == 1:
            return np.array([rho / (1.0 - rho)])
        if level == 0:  # clinic share rho; patient share s of the rest
            return np.array([rho / ((1 - rho) * (1 - s)), s / (1 - s)])
        # clinic + patient share rho, split t : 1 - t between them
        return np.array([s * rho / (1 - rho), (1 - s) * rho / (1 - rho)])

    def at(rho: float) -> float:
        if k == 1:
            return deviance(stats, ratios(rho, 0.0), reml)
        upper = 1.0 - ICC_EDGE if level == 0 else 1.0
        grid = np.linspace(0.0, upper, 41)
        devs = [deviance(stats, ratios(rho, s), reml) for s in grid]
        j = int(np.argmin(devs))
        lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, len(grid) - 1)]
        res = minimize_scalar(lambda s: deviance(stats, ratios(rho, s), reml),
                              bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
        return float(min(res.fun, devs[j]))
    return at


def _interval(profile: Callable[[float], float], estimate: float, dev_min: float,
              scale: float, ceiling: float | None) -> Interval:
    def excess(value: float) -> float:
        return profile(value) - dev_min - CRITICAL

    low = 0.0
    if estimate > 0 and excess(0.0 if ceiling is None else 1e-12) > 0:
        low = brentq(excess, 0.0 if ceiling is None else 1e-12, estimate, xtol=1e-10 * scale)
    high, note = _upper(excess, estimate, scale, ceiling)
    return Interval(float(estimate), float(low), float(high), note)


def _upper(excess, estimate: float, scale: float, ceiling: float | None) -> tuple:
    if ceiling is not None:
        edge = ceiling - ICC_EDGE
        if excess(edge) <= 0:
            return ceiling, None
        return brentq(excess, estimate, edge, xtol=1e-12), None
    step = max(estimate, 1e-3 * scale)
    below = estimate
    while step < SEARCH_LIMIT * scale:
        value = estimate + step
        if excess(value) > 0:
            return brentq(excess, below, value, xtol=1e-10 * scale), None
        below, step = value, step * 2.0
    return math.inf, "the likelihood does not fall enough above the estimate: no upper bound"
