"""The result of a nested random-intercept fit, and the error raised when no fit exists."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

FIXED_COLUMNS = ["coef", "se", "ci_low", "ci_high", "p"]


class FitError(ValueError):
    """The model cannot be fitted to these data (e.g. collinear terms, too few rows)."""


@dataclass(frozen=True)
class NestedFit:
    """Estimates of a linear model with nested random intercepts.

    `variances` and `icc` are keyed by level name (outermost first) and, for variances,
    ``"residual"``. A level that could not be estimated from the data (a single clinic,
    or one observation per patient) is kept in `variances` with the value 0.0, listed in
    `dropped_levels` and explained in `warnings`; a level whose variance was estimated on
    its boundary is 0.0 too, explained in `warnings`, but not dropped.
    """

    fixed: pd.DataFrame
    variances: dict[str, float]
    loglik: float
    converged: bool
    n_obs: int
    n_groups: dict[str, int]
    method: str
    iterations: int
    warnings: list[str]
    icc: dict[str, float]
    cov_fixed: pd.DataFrame
    formula: str
    levels: list[str]
    dropped_levels: list[str] = field(default_factory=list)
    aic: float = math.nan
    bic: float = math.nan
    # fit_nested(..., ddf=...): the method, the z table kept beside the t-based `fixed`,
    # Kenward-Roger's adjusted covariance, and why the ddf are NaN where they are
    ddf: str | None = None
    fixed_z: pd.DataFrame | None = None
    cov_fixed_adjusted: pd.DataFrame | None = None
    ddf_note: str | None = None
