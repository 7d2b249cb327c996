"""fit_nested: maximise the profiled likelihood over the variance ratios, then summarise."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import patsy
from scipy.linalg import cho_solve
from scipy.stats import norm

from . import inference
from .design import Design, Scaling, build_design, check_rank, standardise
from .likelihood import (
    SufficientStats,
    deviance,
    deviance_gradient,
    deviance_of,
    gls,
    sufficient_stats,
)
from .nesting import Nesting, nest
from .result import FIXED_COLUMNS, NestedFit

# The optimiser works in the variance ratios g = variance(level) / variance(residual):
# the deviance is smooth in g and its derivative at g = 0 is not identically zero (it is
# in the sd ratio theta = sqrt(g), where a bounded optimiser can stall at 0, which is why
# the ratios are used). The upper bound only catches a likelihood without maximum.
RATIO_MAX = 1e8
# A ratio below this ends as 0 (lme4 calls theta < 1e-4 singular: g < 1e-8).
SINGULAR_RATIO = 1e-8
# Starting grid per ratio: the optimiser starts from the best grid point and from the best
# one with every ratio positive, so a start on a boundary face cannot hide an interior
# optimum (the profiled likelihood can have one local optimum per face).
START_GRID = (0.0, 1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0)
# Optimality (KKT) in the ratios: |d deviance / d g| at most KKT_RTOL * |deviance| for a
# positive ratio, d deviance / d g at least -KKT_RTOL * |deviance| for one at 0.
# Relative, because the deviance is ~10^2 for a study and ~10^6 at national scale.
KKT_RTOL = 1e-7
# Newton steps below this size relative to the ratios end the search.
STEP_RTOL = 1e-10
# Relative rounding error of an evaluation of the deviance (sums of ~n terms).
ROUNDING = 1e-12
Z_975 = float(norm.ppf(0.975))


@dataclass(frozen=True)
class Optimum:
    """Where the optimiser ended and whether that is a maximum of the likelihood."""

    ratios: np.ndarray
    converged: bool
    iterations: int
    warnings: list[str]


@dataclass
class Descent:
    """One projected-Newton run: where it is and how it ended."""

    ratios: np.ndarray
    dev: float
    iterations: int = 0
    hit_limit: bool = False


class Profile:
    """The profiled deviance of one model, its analytic gradient and the KKT test."""

    def __init__(self, stats: SufficientStats, reml: bool) -> None:
        self.stats, self.reml = stats, reml

    def dev(self, ratios: np.ndarray) -> float:
        return deviance(self.stats, ratios, self.reml)

    def grad(self, ratios: np.ndarray) -> np.ndarray:
        return deviance_gradient(self.stats, ratios, self.reml)

    def tolerance(self, dev: float) -> float:
        return KKT_RTOL * max(1.0, abs(dev))

    def violations(self, ratios: np.ndarray, dev: float) -> list[tuple[int, float]]:
        """(index, gradient) of each ratio where the optimality conditions fail."""
        grad, tol = self.grad(ratios), self.tolerance(dev)
        bad = np.where(ratios > 0, np.abs(grad) > tol, grad < -tol) | ~np.isfinite(grad)
        return [(int(i), float(grad[i])) for i in np.flatnonzero(bad)]


def fit_nested(
    data: pd.DataFrame,
    formula: str,
    levels: Sequence[str],
    reml: bool = False,
    ddf: str | None = None,
    *,
    maxiter: int = 200,
    start: dict[str, float] | None = None,
) -> NestedFit:
    """Fit `formula` with a random intercept at each of `levels` (outermost first).

    ML by default, as Stata's `mixed`; REML with reml=True. Rows missing any variable of
    the model or any level are dropped. Standard errors, CIs and p-values are those of
    Stata's `mixed`: (X'V^-1X)^-1 at the estimated variances, normal approximation.
    Raises FitError (a ValueError) when the model cannot be fitted, e.g. collinear terms.

    ddf="satterthwaite" or "kenward-roger" (REML only: a ValueError otherwise) adds a `df`
    column to `fixed` and makes its p, ci_low and ci_high t-based (for Kenward-Roger the se
    too is the adjusted one); `fixed_z` keeps the z results. Where the ddf cannot be
    computed (a variance at 0, singular information) df is NaN, `fixed` keeps the z
    results and `ddf_note` (also in `warnings`) says why.

    `start` (variance ratios level / residual by level name, e.g. a similar model's fit)
    starts the optimiser there instead of from the starting grid: the maximum found is the
    one nearest the start (for refits of near-identical data, as multiple imputation's);
    an end that fails the optimality test is fitted again from the grid.
    """
    inference.check_ddf(ddf, reml)
    # the formula may use names (np, a helper) from the caller's namespace, as in patsy
    design, nesting, Xs, ys, scaling, stats = prepare(
        data, formula, levels, patsy.EvalEnvironment.capture(1))
    first = None if start is None else np.array([max(float(start.get(level, 0.0)), 0.0)
                                                 for level in nesting.fitted])
    optimum = optimise(stats, reml, maxiter, nesting.fitted, start=first)
    result = summarise(design, nesting, scaling, stats, optimum, reml, formula)
    if ddf is None:
        return result
    return with_ddf(result, ddf, Xs, ys, scaling, nesting, optimum)


def prepare(data: pd.DataFrame, formula: str, levels: Sequence[str],
            eval_env: patsy.EvalEnvironment) -> tuple:
    """Design, nesting, scaled X and y, their scaling and the sufficient statistics."""
    levels = [levels] if isinstance(levels, str) else list(levels)
    design = build_design(data, formula, levels, eval_env)
    nesting = nest(design.frame, levels)
    Xs, ys, scaling = standardise(design.X, design.y, design.terms)
    stats = sufficient_stats(Xs, ys, nesting)
    check_rank(stats.cross[: stats.p, : stats.p], design.terms)
    return design, nesting, Xs, ys, scaling, stats


def with_ddf(result: NestedFit, ddf: str, Xs: np.ndarray, ys: np.ndarray, scaling: Scaling,
             nesting: Nesting, optimum: Optimum) -> NestedFit:
    """The result with t-based inference, or with the z results and a note on why not."""
    try:
        small = _small_sample(result, ddf, Xs, ys, scaling, nesting, optimum)
    except inference.DdfUnavailable as exc:
        return _without_ddf(result, ddf, str(exc))
    return _with_small(result, ddf, small)


def _with_small(result: NestedFit, ddf: str, small: inference.SmallSample) -> NestedFit:
    fixed_z = result.fixed
    table = inference.t_table(fixed_z["coef"].to_numpy(), small)
    fixed = fixed_z.assign(**table)[[*FIXED_COLUMNS, "df"]]
    adjusted = None
    if small.cov_adjusted is not None:
        adjusted = pd.DataFrame(small.cov_adjusted, index=fixed.index, columns=fixed.index)
    return replace(result, fixed=fixed, fixed_z=fixed_z, ddf=ddf, cov_fixed_adjusted=adjusted)


_DDF_NAMES = {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger"}


def _without_ddf(result: NestedFit, ddf: str, reason: str) -> NestedFit:
    """The z results with df NaN and a note saying why the ddf were not computed."""
    note = f"{_DDF_NAMES[ddf]} degrees of freedom not computed: {reason}; z results shown"
    return replace(result, fixed=result.fixed.assign(df=np.nan), fixed_z=result.fixed,
                   ddf=ddf, ddf_note=note, warnings=[*result.warnings, note])


def fit_nested_ddfs(data: pd.DataFrame, formula: str, levels: Sequence[str], *,
                    methods: Sequence[str] = inference.DDF_METHODS,
                    max_block_rows: int | None = None, maxiter: int = 200
                    ) -> tuple[NestedFit, dict[str, NestedFit]]:
    """One REML fit and its results under each ddf method: (z fit, {method: fit}).

    The same as fit_nested(..., reml=True, ddf=method) for each method, with the variance
    parameters estimated once. The ddf algebra is dense within each clinic (V's blocks):
    where the largest block has more than `max_block_rows` rows the ddf are not computed
    (df NaN, z results and a note), since its cost grows with the cube of a block's rows.
    """
    for method in methods:
        inference.check_ddf(method, True)
    design, nesting, Xs, ys, scaling, stats = prepare(
        data, formula, levels, patsy.EvalEnvironment.capture(1))
    optimum = optimise(stats, True, maxiter, nesting.fitted)
    result = summarise(design, nesting, scaling, stats, optimum, True, formula)
    sizes = [len(rows) for rows in inference.row_blocks(nesting, len(ys))[0]]
    try:
        if max_block_rows is not None and sum(float(n) ** 3 for n in sizes) > \
                2.0 * float(max_block_rows) ** 3:
            raise inference.DdfUnavailable(
                f"the computation needs a dense matrix of each clinic's rows, and "
                f"{len(ys):,} rows in clinics of up to {max(sizes):,} rows is beyond what a "
                f"model run computes (about two clinics of {max_block_rows:,} rows)")
        mom = _moments(result, Xs, ys, nesting, optimum)
    except inference.DdfUnavailable as exc:
        return result, {method: _without_ddf(result, method, str(exc)) for method in methods}
    out = {}
    for method in methods:
        try:
            out[method] = _with_small(result, method, _METHODS[method](mom, scaling.transform))
        except inference.DdfUnavailable as exc:
            out[method] = _without_ddf(result, method, str(exc))
    return result, out


def _small_sample(result: NestedFit, ddf: str, Xs: np.ndarray, ys: np.ndarray,
                  scaling: Scaling, nesting: Nesting, optimum: Optimum
                  ) -> inference.SmallSample:
    mom = _moments(result, Xs, ys, nesting, optimum)
    return _METHODS[ddf](mom, scaling.transform)


def _moments(result: NestedFit, Xs: np.ndarray, ys: np.ndarray, nesting: Nesting,
             optimum: Optimum) -> inference.Moments:
    """The REML moments at the estimate; DdfUnavailable where no ddf can be computed."""
    if not result.converged:
        raise inference.DdfUnavailable("the fit did not converge")
    at_zero = [level for level, g in zip(nesting.fitted, optimum.ratios, strict=True)
               if g == 0.0]
    if at_zero:
        raise inference.DdfUnavailable(
            f"the {' and '.join(at_zero)} variance is estimated at 0 (on the boundary), "
            "where the information about it is not that of an interior estimate")
    # the variances are those of ys (only centred), the same as on the original scale
    theta = np.array([result.variances[level] for level in nesting.fitted]
                     + [result.variances["residual"]])
    blocks, codes = inference.row_blocks(nesting, len(ys))
    return inference.moments(Xs, ys, theta, blocks, codes)


_METHODS = {"satterthwaite": inference.satterthwaite, "kenward-roger": inference.kenward_roger}


def optimise(
    stats: SufficientStats, reml: bool, maxiter: int, fitted: Sequence[str],
    start: np.ndarray | None = None,
) -> Optimum:
    """Minimise the profiled deviance over ratios >= 0 and certify the result (KKT).

    `start`: one starting point instead of the grid (the grid's when it fails)."""
    k = stats.n_ratios
    if k == 0:
        return Optimum(np.zeros(0), True, 0, [])
    profile = Profile(stats, reml)
    if start is not None and len(start) == k and np.all(np.isfinite(start)):
        warm = optimise_from(profile, [start], maxiter, fitted)
        if warm.converged:
            return warm
    return optimise_from(profile, _starts(profile, k), maxiter, fitted)


def optimise_from(profile: Profile, starts: list[np.ndarray], maxiter: int,
                  fitted: Sequence[str]) -> Optimum:
    """The best projected-Newton end from these starts, restarted inside where a ratio at
    0 should grow, and certified."""
    runs = [_descend(profile, start, maxiter) for start in starts]
    best = min(runs, key=lambda run: run.dev)
    # a ratio at 0 where the deviance still falls into the interior: restart inside
    for _ in range(3):
        falling = [i for i, g in profile.violations(best.ratios, best.dev)
                   if best.ratios[i] == 0 and g < 0]
        if not falling:
            break
        runs += [_descend(profile, start, maxiter) for start in _interior(best.ratios, falling)]
        best = min(runs, key=lambda run: run.dev)
    iterations = sum(run.iterations for run in runs)
    return Optimum(best.ratios, *_diagnose(profile, best, iterations, fitted))


def _starts(profile: Profile, k: int) -> list[np.ndarray]:
    """The best point of the starting grid, and the best one with every ratio positive."""
    points = np.array(np.meshgrid(*[START_GRID] * k, indexing="ij")).reshape(k, -1).T
    devs = np.array([profile.dev(point) for point in points])
    interior = np.all(points > 0, axis=1)
    best, best_inside = np.argmin(devs), np.flatnonzero(interior)[np.argmin(devs[interior])]
    return [points[best]] if best == best_inside else [points[best], points[best_inside]]


def _interior(ratios: np.ndarray, falling: list[int]) -> list[np.ndarray]:
    """Starting points with the ratios in `falling` moved off 0 by different amounts."""
    starts = []
    for value in (1e-4, 1e-2, 1.0):
        start = ratios.copy()
        start[falling] = value
        starts.append(start)
    return starts


def _descend(profile: Profile, start: np.ndarray, maxiter: int) -> Descent:
    """Projected Newton on ratios >= 0 with a backtracking line search.

    Ratios at 0 whose gradient points outwards stay fixed; the others take a Newton step
    (Hessian from differences of the analytic gradient, made positive definite). Once the
    optimality conditions hold it goes on while the Newton steps still shrink (to the
    rounding floor), so that where it stops does not depend on rounding noise, such as
    that from the order of the rows.
    """
    run = Descent(start.astype(float), profile.dev(start))
    last = math.inf
    while run.iterations < maxiter:
        grad = profile.grad(run.ratios)
        free = (run.ratios > 0) | (grad < 0)
        if not free.any():
            break
        step = _newton_step(profile, run.ratios, grad, free)
        size = float(np.max(np.abs(step) / np.maximum(run.ratios, 1e-6)))
        if (size < STEP_RTOL or size > last / 2) and not profile.violations(run.ratios, run.dev):
            break
        last = size
        run.iterations += 1
        if not _line_search(profile, run, step):
            break
    run.hit_limit = run.iterations >= maxiter and bool(profile.violations(run.ratios, run.dev))
    return run


def _newton_step(
    profile: Profile, ratios: np.ndarray, grad: np.ndarray, free: np.ndarray
) -> np.ndarray:
    idx = np.flatnonzero(free)
    hess = np.empty((len(idx), len(idx)))
    for col, i in enumerate(idx):
        h = 1e-6 * max(ratios[i], 1e-3)
        shifted = ratios.copy()
        shifted[i] += h
        hess[:, col] = (profile.grad(shifted)[idx] - grad[idx]) / h
    values, vectors = np.linalg.eigh((hess + hess.T) / 2.0)
    # a saddle or a concave stretch: step along |eigenvalues| instead (still downhill)
    floor = 1e-10 * max(np.abs(values).max(), 1e-300)
    values = np.maximum(np.abs(values), floor)
    step = np.zeros_like(ratios)
    step[idx] = -vectors @ ((vectors.T @ grad[idx]) / values)
    return step


def _line_search(profile: Profile, run: Descent, step: np.ndarray) -> bool:
    """Halve the step until the deviance falls; project onto ratios in [0, RATIO_MAX].

    Close to the optimum a Newton step changes the deviance by less than its rounding
    error, so a step is taken unless the deviance rises by more than that: the gradient,
    accurate there, then brings the ratios to the optimum.
    """
    t, ceiling = 1.0, run.dev + ROUNDING * max(1.0, abs(run.dev))
    for _ in range(60):
        candidate = np.clip(run.ratios + t * step, 0.0, RATIO_MAX)
        candidate[candidate < SINGULAR_RATIO * (step < 0)] = 0.0
        dev = profile.dev(candidate)
        if dev <= ceiling and not np.array_equal(candidate, run.ratios):
            run.ratios, run.dev = candidate, dev
            return True
        t /= 2.0
    return False


def _diagnose(
    profile: Profile, best: Descent, iterations: int, fitted: Sequence[str]
) -> tuple[bool, int, list[str]]:
    """Converged flag, iteration count and warnings for the final ratios."""
    warnings = [
        f"the {level} variance was estimated on its boundary, 0 (a singular fit): the data "
        f"show no variation between {level}s beyond what the other levels explain"
        for level, g in zip(fitted, best.ratios, strict=True) if g == 0.0
    ]
    unbounded = [level for level, g in zip(fitted, best.ratios, strict=True)
                 if g >= RATIO_MAX * 0.999]
    for level in unbounded:
        warnings.append(
            f"the {level} variance grows without bound relative to the residual variance "
            "(the likelihood has no maximum): check that the outcome varies within "
            f"{level}s; the estimates are not valid"
        )
    failed = [] if unbounded else profile.violations(best.ratios, best.dev)
    for i, grad in failed:
        warnings.append(_kkt_message(fitted[i], best.ratios[i], grad, profile.tolerance(best.dev)))
    converged = not unbounded and not failed
    if not converged and not unbounded:
        limit = ", iteration limit reached" if best.hit_limit else ""
        warnings.append(
            f"the optimiser did not converge ({iterations} iterations{limit}): the "
            "estimates are not a maximum of the likelihood and must not be reported"
        )
    return converged, iterations, warnings


def _kkt_message(level: str, ratio: float, grad: float, tol: float) -> str:
    if not math.isfinite(grad):
        return f"the likelihood's slope in the {level} variance could not be computed"
    if ratio == 0.0:
        return (f"the {level} variance ended at 0, but the likelihood still rises as it "
                f"becomes positive (slope of the deviance {grad:.3g}, tolerance {tol:.2g})")
    return (f"the likelihood is not at a maximum in the {level} variance (slope of the "
            f"deviance {grad:.3g}, tolerance {tol:.2g})")


def summarise(
    design: Design, nesting: Nesting, scaling: Scaling, stats: SufficientStats,
    optimum: Optimum, reml: bool, formula: str,
) -> NestedFit:
    """Estimates on the original scale of X, with Stata-style SEs, CIs and p-values."""
    n, p = stats.n, stats.p
    ratios = optimum.ratios
    fit = gls(stats, ratios)
    sigma2 = fit.rss / (n - p if reml else n)
    # Stata's mixed and lme4 report SEs from (X'V^-1X)^-1 at the estimated variances, not
    # from the inverse of the full Hessian (as statsmodels does)
    cov_s = sigma2 * cho_solve((fit.chol, True), np.eye(p))
    beta, cov = scaling.coefficients(fit.beta), scaling.covariance(cov_s)
    # the REML criterion depends on the parametrisation of X: report it for X as given
    dev = deviance_of(fit, n, p, reml) - (2.0 * scaling.log_abs_det if reml else 0.0)
    variances = _variances(nesting, ratios, sigma2)
    n_params = p + len(nesting.fitted) + 1
    return NestedFit(
        fixed=_fixed_table(beta, cov, design.terms),
        variances=variances, loglik=-dev / 2.0, converged=optimum.converged, n_obs=n,
        n_groups=dict(nesting.n_groups), method="REML" if reml else "ML",
        iterations=optimum.iterations, warnings=[*nesting.warnings, *optimum.warnings],
        icc=_icc(variances, list(nesting.n_groups)),
        cov_fixed=pd.DataFrame(cov, index=design.terms, columns=design.terms),
        formula=formula, levels=list(nesting.n_groups), dropped_levels=list(nesting.dropped),
        aic=dev + 2.0 * n_params, bic=dev + n_params * math.log(n),
    )


def _fixed_table(beta: np.ndarray, cov: np.ndarray, terms: list[str]) -> pd.DataFrame:
    se = np.sqrt(np.diag(cov))
    table = pd.DataFrame(
        {
            "coef": beta, "se": se, "ci_low": beta - Z_975 * se, "ci_high": beta + Z_975 * se,
            "p": 2.0 * norm.sf(np.abs(beta / se)),
        },
        index=terms,
    )
    return table[FIXED_COLUMNS]


def _variances(nesting: Nesting, ratios: np.ndarray, sigma2: float) -> dict[str, float]:
    """Variance per requested level (0.0 for a dropped level) and the residual."""
    fitted = dict(zip(nesting.fitted, ratios, strict=True))
    out = {level: float(sigma2 * fitted.get(level, 0.0)) for level in nesting.n_groups}
    out["residual"] = float(sigma2)
    return out


def _icc(variances: dict[str, float], levels: list[str]) -> dict[str, float]:
    """Intraclass correlations as Stata's estat icc: level k pools levels 1..k."""
    total = sum(variances.values())
    running, out = 0.0, {}
    for level in levels:
        running += variances[level]
        out[level] = running / total
    return out

