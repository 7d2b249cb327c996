"""What a Table 2 model run stores beside each fit (issue 19; JSON in results.py, schema 3).

- `inference`: the model refitted by REML, with the z results and Satterthwaite and
  Kenward-Roger denominator df (t-based p and CIs), or a note where a method cannot be
  computed (a variance at 0, singular information, a cohort too large for the dense
  algebra);
- `variance_tests`: a likelihood-ratio test per level (chi-bar-square p), with AIC and BIC
  of the model without it;
- `profile_ci`: profile-likelihood 95 % CIs of each variance and ICC;
- `diagnostics`: compact summaries for residual and Q-Q plots (diagnostics.py).

Each part fails alone: its error becomes a note, the rest of the model is still stored.
"""
from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from ..multilevel import FitError, NestedFit
from ..multilevel.components import profile_intervals, variance_component_tests
from ..multilevel.effects import predicted_effects
from ..multilevel.fit import fit_nested_ddfs
from .diagnostics import diagnostics_summary
from .results import INFERENCE_METHODS, clean_number

logger = logging.getLogger(__name__)

# Satterthwaite and Kenward-Roger use dense matrices of each clinic's rows; beyond about
# two clinics of this many rows a model run shows the z results with a note (see
# bench/README.md, "Small-sample inference and model checks").
DDF_MAX_BLOCK_ROWS = 500
# Profile-likelihood CIs take ~1-2 s a model at the demo's size and grow with the
# patients: computed up to this many patients in a model, a note beyond.
PROFILE_MAX_PATIENTS = 2_000
FAILURES = (FitError, np.linalg.LinAlgError, ValueError, ArithmeticError)


def _failed(what: str, exc: Exception) -> str:
    logger.warning("%s failed: %s", what, exc, exc_info=True)
    return f"{what} could not be computed: {exc}"


# Why a model's profile CIs were not computed (`model_checks(profile=...)`).
PROFILE_SKIPPED = {
    "published": "profile-likelihood CIs are computed for the published variant only (each "
                 "model takes seconds)",
    "off": "profile-likelihood CIs are switched off for this installation "
           "(setting ANALYSIS_SLOW_CHECKS)",
}


def model_checks(rows: pd.DataFrame, formula: str, levels: list[str], fit: NestedFit, *,
                 reml: bool, profile: str = "on") -> dict[str, Any]:
    """The schema-3 keys of one fitted model (results.py): aic, bic, inference, ...

    `profile`: "on" computes the profile-likelihood CIs; a key of PROFILE_SKIPPED stores
    that reason instead.
    """
    out: dict[str, Any] = {"aic": clean_number(fit.aic), "bic": clean_number(fit.bic),
                           "inference": inference(rows, formula, levels),
                           "variance_tests": variance_tests(rows, formula, levels, reml=reml)}
    if profile in PROFILE_SKIPPED:
        out["profile_ci"] = [_interval_row(name, None, PROFILE_SKIPPED[profile])
                             for name in _parameters(levels)]
    elif fit.n_groups.get("patient", 0) > PROFILE_MAX_PATIENTS:
        out["profile_ci"] = [_interval_row(name, None, f"not computed above "
                                           f"{PROFILE_MAX_PATIENTS:,} patients (the search "
                                           "takes minutes)") for name in _parameters(levels)]
    else:
        out["profile_ci"] = profile_ci(rows, formula, levels, reml=reml)
    try:
        out["diagnostics"] = diagnostics_summary(predicted_effects(rows, fit), fit)
    except FAILURES as exc:
        out["diagnostics"] = {"note": _failed("The diagnostics", exc)}
    return out


def inference(rows: pd.DataFrame, formula: str, levels: list[str]) -> dict[str, Any]:
    """The REML refit's z, Satterthwaite and Kenward-Roger results (schema 3)."""
    try:
        fit, by_method = fit_nested_ddfs(rows, formula, levels,
                                         max_block_rows=DDF_MAX_BLOCK_ROWS)
    except FAILURES as exc:
        return {"estimation": "REML", "ok": False, "error": _failed("The REML refit", exc),
                "loglik": None, "variances": {}, "methods": []}
    methods = [{"key": "z", "label": INFERENCE_METHODS[0][1], "ok": bool(fit.converged),
                "note": None if fit.converged else "the REML fit did not converge",
                "terms": _terms(fit.fixed, with_df=False)}]
    for key, label in INFERENCE_METHODS[1:]:
        result = by_method[key]
        ok = result.ddf_note is None
        methods.append({"key": key, "label": label, "ok": ok, "note": result.ddf_note,
                        "terms": _terms(result.fixed, with_df=True) if ok else []})
    return {"estimation": "REML", "ok": True, "error": None,
            "loglik": clean_number(fit.loglik),
            "variances": {k: clean_number(v) for k, v in fit.variances.items()},
            "methods": methods}


def _terms(table: pd.DataFrame, *, with_df: bool) -> list[dict[str, Any]]:
    return [{"term": term, **{col: clean_number(row[col]) for col in
                              ("coef", "se", "ci_low", "ci_high", "p")},
             "df": clean_number(row["df"]) if with_df else None}
            for term, row in table.iterrows()]


def variance_tests(rows: pd.DataFrame, formula: str, levels: list[str], *, reml: bool
                   ) -> dict[str, Any]:
    """LRT per level (the model without it, same rows): chi-bar-square p."""
    estimation = "REML" if reml else "ML"
    try:
        tests = variance_component_tests(rows, formula, levels, reml=reml)
    except FAILURES as exc:
        return {"estimation": estimation, "levels": [],
                "note": _failed("The variance-component tests", exc)}
    return {"estimation": estimation, "note": None, "levels": [
        {"level": level, "statistic": clean_number(test.statistic), "p": clean_number(test.p),
         "loglik_without": clean_number(test.loglik_without),
         "aic_without": clean_number(test.aic_without),
         "bic_without": clean_number(test.bic_without), "note": test.note}
        for level, test in tests.tests.items()]}


def _parameters(levels: list[str]) -> list[str]:
    return ([f"variance:{level}" for level in levels] + ["variance:residual"]
            + [f"icc:{level}" for level in levels])


def _interval_row(name: str, interval, note: str | None = None) -> dict[str, Any]:
    kind, level = name.split(":")
    if interval is None:
        return {"parameter": name, "kind": kind, "level": level, "estimate": None,
                "low": None, "high": None, "note": note}
    high = interval.high if math.isfinite(interval.high) else None
    return {"parameter": name, "kind": kind, "level": level,
            "estimate": clean_number(interval.estimate), "low": clean_number(interval.low),
            "high": clean_number(high), "note": interval.note}


def profile_ci(rows: pd.DataFrame, formula: str, levels: list[str], *, reml: bool
               ) -> list[dict[str, Any]]:
    """95 % profile-likelihood CIs of every variance and ICC (a note where none)."""
    try:
        intervals = profile_intervals(rows, formula, levels, reml=reml)
    except FAILURES as exc:
        note = _failed("The profile-likelihood CIs", exc)
        return [_interval_row(name, None, note) for name in _parameters(levels)]
    return [_interval_row(name, intervals.get(name),
                          None if name in intervals else "not estimated")
            for name in _parameters(levels)]
