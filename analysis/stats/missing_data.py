"""The loss to follow-up in a model run: MI, IPW and the tipping point as results JSON.

Computed on the published variant only (results.py, schema 3: attrition "mi", "ipw",
"tipping_point"), because each MI model is m = 20 refits and the tipping point ~10 times
that; the partnership coefficient of every approach is then put side by side with the
z, Satterthwaite and Kenward-Roger results of Table 2 (`partnership_side_by_side`).

Each analysis fails alone: a cohort without patients lost to follow-up, an imputation model
that cannot be fitted, or a cohort above MI_MAX_PATIENTS gives a note, the rest is shown.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from . import attrition, imputation
from .results import OUTCOMES, PARTNERSHIP_ESTIMATES, clean_number

logger = logging.getLogger(__name__)

VARIANT = "paper"
TERM = "partnership"
TIPPING_OUTCOME = "pih_overall"
# The tipping point's grid: follow-up PIH overall of the lost patients shifted by 0, -10,
# ... -60 points (of 100), then bisection to 1 point.
TIPPING_STEP, TIPPING_LIMIT, TIPPING_TOLERANCE = 10.0, -60.0, 1.0
# MI refits the five published models m = 20 times (and the tipping point ~10 x 20 more):
# ~10 s at the demo's size. Above this many imputed patients a model run leaves it out,
# with a note (bench/README.md, "Small-sample inference and model checks").
MI_MAX_PATIENTS = 5_000


def _clean(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: clean_number(v) if isinstance(v, float | int | np.number) and
            not isinstance(v, bool) else v for k, v in mapping.items()}


SWITCHED_OFF = ("Multiple imputation and the tipping point are switched off for this "
                "installation (setting ANALYSIS_SLOW_CHECKS).")


def missing_data(cohort: pd.DataFrame, patients: pd.DataFrame, *, reml: bool = False,
                 heartbeat: Callable[[], Any] | None = None, imputation_on: bool = True
                 ) -> dict[str, Any]:
    """The "mi", "ipw" and "tipping_point" keys of results["attrition"].

    `heartbeat` is called between the parts (MI and the tipping point take seconds each);
    `imputation_on` False stores a note instead of MI and the tipping point.
    """
    beat = heartbeat or (lambda: None)
    ipw = weighted(cohort, patients)
    beat()
    if not imputation_on:
        return {"mi": {"ok": False, "m": imputation.DEFAULT_IMPUTATIONS,
                       "notes": [SWITCHED_OFF], "models": [], "counts": {}},
                "ipw": ipw, "tipping_point": None}
    mi, tipping = multiple_imputation(patients, reml=reml, heartbeat=beat)
    return {"mi": mi, "ipw": ipw, "tipping_point": tipping}


def multiple_imputation(patients: pd.DataFrame, *, reml: bool = False,
                        heartbeat: Callable[[], Any] | None = None
                        ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    data_size = len(attrition.followup_groups(patients).completers) + \
        len(attrition.followup_groups(patients).lost)
    m = imputation.DEFAULT_IMPUTATIONS
    if data_size > MI_MAX_PATIENTS:
        note = (f"Multiple imputation is not run by a model run above {MI_MAX_PATIENTS:,} "
                f"completers and lost patients ({data_size:,} here): its {m} x 5 refits "
                "would take minutes. With this many patients the complete-case estimates "
                "and the weighted ones below carry the comparison.")
        return {"ok": False, "m": m, "notes": [note], "models": [], "counts": {}}, None
    try:
        result = imputation.multiple_imputation(
            patients, m=m, outcomes=[code for code, _ in OUTCOMES], variants=[VARIANT],
            reml=reml)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        logger.warning("multiple imputation failed", exc_info=True)
        return {"ok": False, "m": m, "notes": [f"Multiple imputation failed: {exc}"],
                "models": [], "counts": {}}, None
    out = {"ok": result.ok, "m": result.m, "seed": result.seed,
           "iterations": result.iterations, "counts": result.counts,
           "notes": list(result.notes), "models": [_pooled_model(m) for m in result.models]}
    tipping = None
    if heartbeat is not None:
        heartbeat()
    if result.ok:
        point = imputation.tipping_point(result, TIPPING_OUTCOME, term=TERM, variant=VARIANT,
                                         step=TIPPING_STEP, limit=TIPPING_LIMIT,
                                         tolerance=TIPPING_TOLERANCE)
        tipping = {"outcome": point.outcome, "term": point.term,
                   "tipping_delta": clean_number(point.tipping_delta), "note": point.note,
                   "grid": [_clean(row) for row in point.grid]}
    return out, tipping


def _pooled_model(model: imputation.PooledModel) -> dict[str, Any]:
    return {"outcome": model.outcome, "variant": model.variant, "formula": model.formula,
            "fitted": model.fitted, "notes": list(model.notes),
            "terms": [{"term": t.term, "coef": clean_number(t.pooled.estimate),
                       **_clean({k: getattr(t.pooled, k) for k in
                                 ("se", "df", "ci_low", "ci_high", "p", "fmi", "riv")})}
                      for t in model.terms]}


def weighted(cohort: pd.DataFrame, patients: pd.DataFrame) -> dict[str, Any]:
    """IPW (and the same estimator unweighted) for the published models."""
    try:
        result = attrition.ipw_models(cohort, patients, variants=[VARIANT])
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        logger.warning("IPW failed", exc_info=True)
        return {"ok": False, "notes": [f"The weighted analysis failed: {exc}"],
                "weights": {}, "models": []}
    return {"ok": bool(result.models), "notes": list(result.notes),
            "weights": _clean(result.weights.summary),
            "models": [{"outcome": m.outcome, "variant": m.variant, "weighted": m.weighted,
                        "formula": m.formula, "n_obs": m.n_obs, "n_patients": m.n_patients,
                        "note": m.note, "terms": [_clean(asdict(t)) for t in m.terms]}
                       for m in result.models]}


# --- the partnership coefficient side by side ------------------------------------------------

def _estimate(key: str, label: str, term: dict | None, note: str | None) -> dict[str, Any]:
    if term is None or term.get("coef") is None:
        return {"key": key, "label": label, "coef": None, "ci_low": None, "ci_high": None,
                "p": None, "df": None, "note": note or "not available"}
    return {"key": key, "label": label, "coef": term["coef"], "ci_low": term.get("ci_low"),
            "ci_high": term.get("ci_high"), "p": term.get("p"), "df": term.get("df"),
            "note": note}


def _term(terms: list[dict], name: str = TERM) -> dict | None:
    return next((t for t in terms if t.get("term") == name), None)


def partnership_side_by_side(results: dict[str, Any]) -> list[dict[str, Any]]:
    """results["partnership"]: one row per outcome, five estimates (results.py)."""
    labels = dict(PARTNERSHIP_ESTIMATES)
    models = {m["outcome"]: m for m in results.get("table2", {}).get("models", [])
              if m["variant"] == VARIANT}
    missing = results.get("attrition", {})
    mi = {m["outcome"]: m for m in (missing.get("mi") or {}).get("models", [])}
    ipw = {m["outcome"]: m for m in (missing.get("ipw") or {}).get("models", [])
           if m["weighted"]}
    rows = []
    for outcome, label in OUTCOMES:
        model = models.get(outcome) or {}
        estimates = [_estimate("z", labels["z"], _term(model.get("terms", [])),
                               model.get("error"))]
        methods = {m["key"]: m for m in (model.get("inference") or {}).get("methods", [])}
        for key in ("satterthwaite", "kenward-roger"):
            method = methods.get(key) or {}
            estimates.append(_estimate(key, labels[key], _term(method.get("terms", [])),
                                       method.get("note") or
                                       (model.get("inference") or {}).get("error")))
        pooled = mi.get(outcome) or {}
        estimates.append(_estimate("mi", labels["mi"], _term(pooled.get("terms", [])),
                                   "; ".join(pooled.get("notes", []))
                                   or " ".join((missing.get("mi") or {}).get("notes", []))
                                   if not _term(pooled.get("terms", [])) else None))
        weighted_model = ipw.get(outcome) or {}
        estimates.append(_estimate("ipw", labels["ipw"], _term(weighted_model.get("terms", [])),
                                   weighted_model.get("note")
                                   or " ".join((missing.get("ipw") or {}).get("notes", []))
                                   if not _term(weighted_model.get("terms", [])) else None))
        rows.append({"outcome": outcome, "label": label, "estimates": estimates})
    return rows
