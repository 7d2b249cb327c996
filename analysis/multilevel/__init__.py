"""Linear models with random intercepts at up to two nested levels (ML or REML).

`fit_nested(data, formula, levels, reml=False)` returns a `NestedFit`; `FitError` (a
ValueError) is raised when the model cannot be fitted. Levels the data cannot identify
(a single clinic; one observation per patient) are fitted without, reported with
variance 0.0, listed in `dropped_levels` and explained in `warnings`. A variance
estimated on its boundary is 0.0 with a warning.

`converged` is True only where the optimality (KKT) conditions of the profiled likelihood
hold in the variance ratios, checked with its analytic gradient: a zero variance is
reported only where the likelihood falls as it becomes positive. Otherwise `warnings` say
which condition failed. Row order does not change the estimates.
"""
from .fit import fit_nested
from .result import FitError, NestedFit

__all__ = ["FitError", "NestedFit", "fit_nested"]
