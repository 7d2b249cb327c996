"""The result of a nested random-intercept fit, and the error raised when no fit exists."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

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

    @property
    def sd(self) -> dict[str, float]:
        """Standard deviations of the random intercepts and the residual."""
        return {name: math.sqrt(v) for name, v in self.variances.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (strict JSON: non-finite numbers become None).

        Fixed effects are a list, not a dict keyed by term, because PostgreSQL's jsonb
        does not keep key order and the order of terms matters for display.
        """
        return {
            "method": self.method,
            "formula": self.formula,
            "levels": list(self.levels),
            "dropped_levels": list(self.dropped_levels),
            "n_obs": int(self.n_obs),
            "n_groups": {k: int(v) for k, v in self.n_groups.items()},
            "converged": bool(self.converged),
            "iterations": int(self.iterations),
            "loglik": _num(self.loglik),
            "aic": _num(self.aic),
            "bic": _num(self.bic),
            "fixed": [
                {"term": str(term), **{col: _num(row[col]) for col in FIXED_COLUMNS}}
                for term, row in self.fixed.iterrows()
            ],
            "variances": {k: _num(v) for k, v in self.variances.items()},
            "icc": {k: _num(v) for k, v in self.icc.items()},
            "cov_fixed": {
                "terms": [str(t) for t in self.cov_fixed.index],
                "matrix": [[_num(v) for v in row] for row in self.cov_fixed.to_numpy()],
            },
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NestedFit:
        """Rebuild a result stored with `to_dict` (e.g. from a JSONField)."""
        fixed = pd.DataFrame(data["fixed"]).set_index("term")[FIXED_COLUMNS].astype(float)
        fixed.index.name = None
        terms = data["cov_fixed"]["terms"]
        cov = pd.DataFrame(data["cov_fixed"]["matrix"], index=terms, columns=terms, dtype=float)
        return cls(
            fixed=fixed, variances=_floats(data["variances"]), loglik=_flt(data["loglik"]),
            converged=data["converged"], n_obs=data["n_obs"], n_groups=dict(data["n_groups"]),
            method=data["method"], iterations=data["iterations"],
            warnings=list(data["warnings"]), icc=_floats(data["icc"]), cov_fixed=cov,
            formula=data["formula"], levels=list(data["levels"]),
            dropped_levels=list(data["dropped_levels"]), aic=_flt(data["aic"]),
            bic=_flt(data["bic"]),
        )


def _num(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _flt(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _floats(mapping: dict[str, float | None]) -> dict[str, float]:
    return {k: _flt(v) for k, v in mapping.items()}
