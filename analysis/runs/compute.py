"""The compute step of a model run: options in, the results JSON out (no writes).

The JSON's structure is documented in analysis/stats/results.py.
"""
from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pandas as pd
from django.conf import settings
from django.core.exceptions import ValidationError

from questionnaires.instruments import SCORING_VERSION

from ..stats import descriptives, missing_data, regression
from ..stats.cohort import (
    ANALYSIS_VERSION,
    cohort_fingerprint,
    load_cohort,
    load_cohort_and_fingerprint,
    patients_wide,
)
from ..stats.cohort import (
    fingerprint as frame_fingerprint,
)
from ..stats.results import DEFAULT_OPTIONS, LEGACY_POPULATIONS, POPULATIONS, SCHEMA_VERSION


def normalise_options(options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Options with defaults filled in; an unknown option or value is refused by name."""
    merged = {**DEFAULT_OPTIONS, **(options or {})}
    # a value stored or scripted by an earlier version means the population it computed
    merged["population"] = LEGACY_POPULATIONS.get(merged["population"], merged["population"])
    unknown = set(merged) - set(DEFAULT_OPTIONS)
    if unknown:
        raise ValidationError({"options": f"Unknown option(s): {', '.join(sorted(unknown))}."})
    if merged["population"] not in POPULATIONS:
        raise ValidationError({"population": f"Unknown analysis population "
                                             f"'{merged['population']}'; choose one of "
                                             f"{', '.join(POPULATIONS)}."})
    merged["reml"] = bool(merged["reml"])
    return merged


def data_fingerprint(options: Mapping[str, Any]) -> str:
    """The fingerprint of the analysis data as it is now, for these options (computed by
    PostgreSQL without sending a row; on SQLite from one read of the cohort)."""
    return cohort_fingerprint(options)


def compute_results(*, options: Mapping[str, Any], heartbeat: Callable[[], Any] | None = None,
                    fingerprint: str = "", cohort: pd.DataFrame | None = None
                    ) -> tuple[dict[str, Any], dict[str, float]]:
    """Load the cohort (one read) and compute every table: (results JSON, timings).

    `fingerprint`: the run's, taken when it was queued (before this read), kept as the
    results' own, so the refit reads nothing more. It can only be older than the data
    read: a change in between makes the next tick's fingerprint differ, and that tick
    refits (never the reverse, a change taken as fitted). Without it the fingerprint is
    computed from this read's snapshot.

    `heartbeat` is called after each step and each Table 2 model: the run's sign of life.
    `cohort`: the frame to analyse (a dataset freeze's frozen rows) instead of the live one.
    """
    options = normalise_options(options)
    beat = heartbeat or (lambda: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if cohort is not None:  # a dataset freeze's frozen rows: fingerprinted as they are
        fingerprint = fingerprint or frame_fingerprint(cohort, options)
    elif fingerprint:
        cohort = load_cohort()
    else:
        cohort, fingerprint = load_cohort_and_fingerprint(options)
    patients = patients_wide(cohort)
    timings["load"] = time.perf_counter() - started
    population = options["population"]
    results: dict[str, Any] = {
        "schema": SCHEMA_VERSION, "options": options, "scoring_version": SCORING_VERSION,
        "fingerprint": fingerprint, "counts": _counts(cohort, patients)}
    # One model frame and row selection for every model; Table 1 and the change from
    # baseline describe the patients the models analyse.
    slow = getattr(settings, "ANALYSIS_SLOW_CHECKS", True)
    step_started = time.perf_counter()
    selection = regression.selection_for(cohort, patients, population=population)
    analysed = patients.loc[patients["study_id"].isin(selection.patients())]
    timings["selection"] = time.perf_counter() - step_started
    steps = [
        ("table1", lambda: descriptives.table1(analysed, population=population)),
        ("table2", lambda: regression.table2(cohort, patients, population=population,
                                             reml=options["reml"], progress=beat,
                                             selection=selection, slow_checks=slow)),
        ("change", lambda: descriptives.change_from_baseline(analysed)),
        ("attrition", lambda: descriptives.attrition(patients)),
    ]
    for name, step in steps:
        step_started = time.perf_counter()
        results[name] = step()
        timings[name] = time.perf_counter() - step_started
        beat()
    # issue 19: the loss to follow-up by MI and IPW, then partnership under every approach
    step_started = time.perf_counter()
    results["attrition"].update(missing_data.missing_data(
        cohort, patients, reml=options["reml"], heartbeat=beat, imputation_on=slow))
    results["partnership"] = missing_data.partnership_side_by_side(results)
    timings["missing_data"] = time.perf_counter() - step_started
    beat()
    results["warnings"] = _warnings(results)
    timings["total"] = time.perf_counter() - started
    return results, {k: round(v, 4) for k, v in timings.items()}


def _counts(cohort, patients) -> dict[str, int]:
    both = patients["has_baseline"] & patients["has_followup"]
    return {"administrations": int(len(cohort)), "patients": int(len(patients)),
            "clinics": int(cohort["clinic"].nunique()), "completers": int(both.sum()),
            "baseline_only": int((patients["has_baseline"] & ~patients["has_followup"]).sum())}


def _warnings(results: Mapping[str, Any]) -> list[str]:
    warnings = []
    if results["counts"]["patients"] == 0:
        warnings.append("No complete administrations to analyse.")
    labels = {o["key"]: o["label"] for o in results["table2"]["outcomes"]}
    variants = {v["key"]: v["label"] for v in results["table2"]["variants"]}
    for model in results["table2"]["models"]:
        where = f"{labels[model['outcome']]}, {variants[model['variant']]}"
        if model["error"]:
            warnings.append(f"{where}: not fitted: {model['error']}")
        warnings.extend(f"{where}: {text}" for text in model["warnings"])
    return warnings


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "scoring": SCORING_VERSION,
                "analysis": ANALYSIS_VERSION}
    for package in ("numpy", "pandas", "scipy", "statsmodels", "django", "celery"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = ""
    return versions
