"""fit_nested: maximise the profiled likelihood over the variance ratios, then summarise."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy
from scipy.linalg import cho_solve
from scipy.optimize import minimize
from scipy.stats import norm

from .design import Design, Scaling, build_design, check_rank, standardise
from .likelihood import SufficientStats, deviance, deviance_of, gls, sufficient_stats
from .nesting import Nesting, nest
from .result import FIXED_COLUMNS, NestedFit

# theta = sd(level) / sd(residual), as lme4 parametrises it; theta >= 0 allows a zero
# variance. The upper bound (variance ratio 1e8) only catches a likelihood without maximum.
THETA_MAX = 1e4
# lme4 calls a fit singular when a theta is below 1e-4; such a variance is reported as 0.
SINGULAR_TOL = 1e-4
# Largest projected gradient of the deviance (per unit theta) accepted as converged.
GRADIENT_TOL = 1e-2
Z_975 = float(norm.ppf(0.975))


@dataclass(frozen=True)
class Optimum:
    """Where the optimiser ended and whether that is a maximum of the likelihood."""

    theta: np.ndarray
    converged: bool
    iterations: int
    warnings: list[str]


def fit_nested(
    data: pd.DataFrame,
    formula: str,
    levels: Sequence[str],
    reml: bool = False,
    *,
    maxiter: int = 200,
) -> NestedFit:
    """Fit `formula` with a random intercept at each of `levels` (outermost first).

    ML by default, as Stata's `mixed`; REML with reml=True. Rows missing any variable of
    the model or any level are dropped. Standard errors, CIs and p-values are those of
    Stata's `mixed`: (X'V^-1X)^-1 at the estimated variances, normal approximation.
    Raises FitError (a ValueError) when the model cannot be fitted, e.g. collinear terms.
    """
    levels = [levels] if isinstance(levels, str) else list(levels)
    # the formula may use names (np, a helper) from the caller's namespace, as in patsy
    design = build_design(data, formula, levels, patsy.EvalEnvironment.capture(1))
    nesting = nest(design.frame, levels)
    Xs, ys, scaling = standardise(design.X, design.y, design.terms)
    stats = sufficient_stats(Xs, ys, nesting)
    check_rank(stats.cross[: stats.p, : stats.p], design.terms)
    optimum = optimise(stats, reml, maxiter, nesting.fitted)
    return summarise(design, nesting, scaling, stats, optimum, reml, formula)


def optimise(
    stats: SufficientStats, reml: bool, maxiter: int, fitted: Sequence[str]
) -> Optimum:
    """Minimise the profiled deviance over theta >= 0 (L-BFGS-B, bounded)."""
    k = stats.n_ratios
    if k == 0:
        return Optimum(np.zeros(0), True, 0, [])

    def objective(theta: np.ndarray) -> float:
        return deviance(stats, theta**2, reml)

    theta, iterations, hit_limit = _minimise(objective, np.ones(k), maxiter)
    if not hit_limit and not _is_stationary(objective, theta):
        # a line search stopped by rounding noise usually finishes from where it stopped
        theta, more, hit_limit = _minimise(objective, theta, maxiter)
        iterations += more
    theta = np.where(theta < SINGULAR_TOL, 0.0, theta)
    return Optimum(theta, *_diagnose(objective, theta, iterations, hit_limit, fitted))


def _minimise(
    objective: Callable[[np.ndarray], float], start: np.ndarray, maxiter: int
) -> tuple[np.ndarray, int, bool]:
    res = minimize(
        objective, start, method="L-BFGS-B", jac="3-point",
        bounds=[(0.0, THETA_MAX)] * len(start),
        options={"maxiter": maxiter, "ftol": 1e-15, "gtol": 1e-9, "maxls": 50},
    )
    return np.asarray(res.x, dtype=float), int(res.nit), res.status == 1


def _projected_gradient(objective: Callable[[np.ndarray], float], theta: np.ndarray):
    """Central differences inside, forward at the lower bound, where only a descent
    direction into the feasible region counts."""
    f0 = objective(theta)
    grad = np.zeros_like(theta)
    for i in range(len(theta)):
        step = np.zeros_like(theta)
        step[i] = 1e-5 * max(1.0, theta[i])
        if theta[i] - step[i] < 0:
            grad[i] = min(0.0, (objective(theta + step) - f0) / step[i])
        else:
            grad[i] = (objective(theta + step) - objective(theta - step)) / (2 * step[i])
    return grad


def _is_stationary(objective: Callable[[np.ndarray], float], theta: np.ndarray) -> bool:
    grad = _projected_gradient(objective, theta)
    return bool(np.all(np.isfinite(grad)) and np.max(np.abs(grad)) <= GRADIENT_TOL)


def _diagnose(
    objective: Callable[[np.ndarray], float], theta: np.ndarray, iterations: int,
    hit_limit: bool, fitted: Sequence[str],
) -> tuple[bool, int, list[str]]:
    """Converged flag, iteration count and warnings for the final theta."""
    warnings = [
        f"the {level} variance was estimated on its boundary, 0 (a singular fit): the data "
        f"show no variation between {level}s beyond what the other levels explain"
        for level, t in zip(fitted, theta, strict=True) if t == 0.0
    ]
    unbounded = [level for level, t in zip(fitted, theta, strict=True) if t >= THETA_MAX * 0.999]
    for level in unbounded:
        warnings.append(
            f"the {level} variance grows without bound relative to the residual variance "
            "(the likelihood has no maximum): check that the outcome varies within "
            f"{level}s; the estimates are not valid"
        )
    converged = not hit_limit and not unbounded and _is_stationary(objective, theta)
    if not converged and not unbounded:
        warnings.append(
            f"the optimiser did not converge ({iterations} iterations"
            f"{', iteration limit reached' if hit_limit else ''}): the estimates are not "
            "a maximum of the likelihood and must not be reported"
        )
    return converged, iterations, warnings


def summarise(
    design: Design, nesting: Nesting, scaling: Scaling, stats: SufficientStats,
    optimum: Optimum, reml: bool, formula: str,
) -> NestedFit:
    """Estimates on the original scale of X, with Stata-style SEs, CIs and p-values."""
    n, p = stats.n, stats.p
    ratios = optimum.theta**2
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

