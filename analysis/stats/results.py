"""The stored results of a model run: their JSON structure, labels and a text summary.

`ModelRun.results` is strict JSON (no NaN: a number that cannot be computed is `null`).
Ordered things are lists, never dicts keyed by name, because PostgreSQL's jsonb does not
keep key order. Dicts keyed by a column key (`"overall"`, a clinic code) are looked up
through the ordered `columns` list. Runs stored with schema 1 (population
"complete_cases", Table 1 of every completer, chi-square or Fisher's exact) still render,
marked outdated. Runs of schema 2 render without the issue-19 parts (small-sample
inference, variance tests, diagnostics, MI and IPW) and say so. The structure (schema 3) is::

    {
      "schema": 3,
      "options": {"population": "completers" | "completers_both_rows" | "all_available",
                  "reml": false},
      "scoring_version": "2026.1",
      "fingerprint": "<sha256 hex>",
      "counts": {"administrations": 250, "patients": 147, "clinics": 3,
                 "completers": 103, "baseline_only": 44},
      "warnings": ["..."],                        # every warning of the run, as text

      "table1": {                                 # characteristics by clinic of the
        "population": "completers",               # patients in at least one Table 2 model
        "columns": [{"key": "overall", "label": "Overall", "n": 103},
                    {"key": "A", "label": "A", "n": 31}, ...],
        "variables": [
          {"key": "age", "label": "Age (years)", "kind": "median_range",
           "test": "Kruskal-Wallis", "p": 0.772,   # p across clinics; null if not testable
           "rows": [{"key": "age", "label": "Age, median (range)",
                     "cells": {"overall": {"n": 103, "median": 48.0, "min": 19, "max": 84},
                               "A": {...}, ...}}]},
          {"key": "gender", "label": "Gender", "kind": "categorical",
           "test": "Pearson chi-square", "p": 0.548,     # no continuity correction
           "min_expected": 6.9, "small_expected": false,  # an expected count below 5
           "fisher_p": null,                      # Fisher's exact when small_expected
                                                  # (null beyond 5,000 patients, r x c)
           "rows": [{"key": "male", "label": "Male",
                     "cells": {"overall": {"count": 34, "percent": 33.0}, "A": {...}}},
                    ...],
           "missing": {"overall": 0, "A": 0, ...}},   # not in the percentages or test
          {"key": "baseline_ppic_partnership", "label": "Partnership, baseline",
           "kind": "mean_sd", "test": "One-way ANOVA", "p": 0.113,
           "rows": [{"key": "baseline_ppic_partnership", "label": "...",
                     "cells": {"overall": {"n": 103, "mean": 37.8, "sd": 8.6}, ...}}]},
          ...
        ]
      },
      # Table 1 variables, in order: age, gender, ethnicity, education, pain_years_group,
      # pain_sites_group, then mean_sd rows baseline_<score> and followup_<score> for
      # bpi_severity, bpi_interference, ppic_partnership and the five PIH scores.

      "table2": {                                 # multilevel models
        "population": "completers",
        "not_in_population": {"rows": 44, "patients": 44},   # not completers
        "outcomes": [{"key": "pih_knowledge", "label": "PIH knowledge"}, ...],   # 5
        "variants": [{"key": "paper", "label": "...", "description": "..."},
                     {"key": "timepoint", ...}, {"key": "between_within", ...}],
        "models": [                               # one per outcome x variant
          {"outcome": "pih_knowledge", "variant": "paper",
           "formula": "pih_knowledge ~ partnership + age + ...",
           "ok": true, "error": null,             # error: why the model could not be fitted
           "n_obs": 206, "n_patients": 103, "n_clinics": 3,
           "converged": true, "loglik": -900.1,
           "terms": [{"term": "partnership", "label": "Partnership (PPiC)",
                      "reference": null,       # e.g. "male" for "female"
                      "coef": 1.47, "se": 0.19, "ci_low": 1.10, "ci_high": 1.84,
                      "p": 1e-12}, ...],     # Intercept first, in formula order
           "variances": {"clinic": 2.1, "patient": 120.3, "residual": 200.4},
           "icc": {"clinic": 0.01, "patient": 0.38},    # Stata's estat icc: "patient"
                                                  # is patient|clinic (pools clinic)
           "dropped_levels": [],                  # levels the data could not identify
           "exclusions": [                        # population rows left out, first reason
             {"variable": "partnership", "timepoint": "follow-up", "rows": 5,
              "patients": 5, "reason": "without a PPiC partnership score: 6 or more of
              its 11 items unanswered", "text": "5 follow-up rows without ..."}, ...],
           "warnings": ["..."],
           # --- schema 3 (issue 19); absent from older runs, which still render ---
           "aic": 1812.3, "bic": 1871.0,          # of the fit above (ML or REML as run)
           "inference": {                         # REML refit: small-sample inference
             "estimation": "REML", "ok": true, "error": null,   # error: REML fit failed
             "loglik": -890.2, "variances": {"clinic": 0.0, "patient": ..., "residual": ...},
             "methods": [                         # always these three, in this order
               {"key": "z", "label": "z (REML, normal approximation)", "ok": true,
                "note": null, "terms": [{"term": "partnership", "coef": 1.46, "se": 0.19,
                                         "df": null, "ci_low": 1.09, "ci_high": 1.83,
                                         "p": 1e-12}, ...]},
               {"key": "satterthwaite", "label": "Satterthwaite t", "ok": false,
                "note": "Satterthwaite degrees of freedom not computed: the clinic variance
                         is estimated at 0 ...; z results shown",
                "terms": []},                     # [] when not ok: nothing t-based to show
               {"key": "kenward-roger", "label": "Kenward-Roger t", "ok": true, ...
                "terms": [{..., "df": 2.3, ...}]}   # KR: se is the adjusted one
             ]},
           "variance_tests": {                    # LRT per level, model without it
             "estimation": "ML",                  # that of the run (options.reml)
             "levels": [{"level": "clinic", "statistic": 0.0, "p": 1.0,   # chi-bar-square
                         "loglik_without": -900.1, "aic_without": 1810.3,
                         "bic_without": 1866.0, "note": null}, ...]},   # clinic, patient
           "profile_ci": [                        # 95 % profile-likelihood CIs
             {"parameter": "variance:clinic", "kind": "variance", "level": "clinic",
              "estimate": 0.0, "low": 0.0, "high": 40.2,   # high null: no upper bound
              "note": null},
             ... variance:patient, variance:residual, icc:clinic, icc:patient],
           "diagnostics": {                       # compact: drawn without the data
             "residuals": {                       # conditional: y - fitted (X b + Z u)
               "n": 206, "sigma": 12.1,           # residual SD of the fit
               "points": [[fitted, residual], ...],  # at most 400: the 40 largest |res|
               "sampled": false,                  # + a seeded random sample of the rest
               "bins": [{"fitted_low": 40.1, "fitted_high": 48.0, "n": 21,
                         "mean": 0.3, "p05": -18.2, "p95": 17.9}, ...]},  # 10 by fitted
             "qq": [{"key": "residual" | "clinic" | "patient",
                     "label": "Residuals" | "Clinic effects (BLUPs)" | "Patient effects
                              (BLUPs)",
                     "n": 206, "sd": 12.1,        # SD of the values
                     "points": [[normal quantile, value], ...]}]}  # all values up to 100,
          },                                      # else 100 quantiles (Blom positions)
          ...
        ]
      },

      "change": {                                 # follow-up minus baseline, analysed
        "rows": [{"key": "ppic_partnership", "label": "Partnership (PPiC)", "n": 103,
                  "baseline_mean": 37.8, "followup_mean": 45.1, "mean_change": 7.3,
                  "baseline_sd": 8.6, "followup_sd": 6.8,   # of the same pairs
                  "sd_change": 8.0, "ci_low": 5.7, "ci_high": 8.9,
                  "test": "Paired t-test", "statistic": 9.1, "p": 1e-14}, ...]
      },                                          # partnership, then the five PIH scores

      "attrition": {                              # completers vs lost to follow-up
        "groups": [{"key": "completers", "label": "Completers", "n": 103},
                   {"key": "lost", "label": "Lost to follow-up", "n": 44}],
        "lost_reasons": [{"key": "did_not_attend", "label": "Did not attend", "n": 12},
                         ...],
        "not_yet_due": 0,                         # active patients, in neither group
        "variables": [... same shape as table1 variables, with cells keyed by
                      "completers" and "lost"; tests: Mann-Whitney U (age), Pearson
                      chi-square (categories), Welch t-test (means) ...],
        # --- schema 3 (issue 19): the loss to follow-up analysed two ways ---
        "mi": {                                   # multiple imputation, Rubin's rules
          "ok": true, "m": 20, "seed": 20181, "iterations": 10,
          "counts": {"patients": 120, "completers": 85, "lost": 35, "excluded": 0,
                     "values_imputed": 280},
          "notes": ["..."],                       # why not run / not converged, if so
          "models": [{"outcome": "pih_knowledge", "variant": "paper",   # paper variant
                      "formula": "...", "fitted": 20, "notes": [],
                      "terms": [{"term": "partnership", "coef": 1.4, "se": 0.2,
                                 "df": 61.2, "ci_low": 1.0, "ci_high": 1.8, "p": 1e-9,
                                 "fmi": 0.21, "riv": 0.25}, ...]}, ...]},
        "ipw": {                                  # inverse probability of completion
          "ok": true, "notes": ["..."],
          "weights": {"min": 0.6, "max": 2.9, "mean": 1.0, "effective_n": 74.1,
                      "completers": 85, "lost": 35},
          "models": [{"outcome": "pih_knowledge", "variant": "paper", "weighted": true,
                      "formula": "... + clinic (fixed)", "n_obs": 170, "n_patients": 85,
                      "note": null,               # each weighted model, then unweighted
                      "terms": [{"term": "partnership", "coef": 1.4, "se": 0.2,
                                 "df": 84, "ci_low": ..., "ci_high": ..., "p": ...}]},
                     ...]},
        "tipping_point": {                        # delta adjustment of the lost patients'
          "outcome": "pih_overall", "term": "partnership",   # imputed follow-up outcome
          "tipping_delta": null,                  # first delta whose CI includes 0
          "note": "The CI excludes 0 for every delta down to -60.",
          "grid": [{"delta": 0.0, "estimate": 0.8, "ci_low": 0.6, "ci_high": 1.0,
                    "p": 1e-9}, ...]}             # null when MI was not run
      },

      "partnership": [                            # schema 3: the partnership coefficient
        {"outcome": "pih_knowledge", "label": "PIH knowledge",   # of the paper variant
         "estimates": [                           # side by side, always these 5 keys:
           {"key": "z", "label": "z (ML, as published)", "coef": 1.47, "ci_low": 1.10,
            "ci_high": 1.84, "p": 1e-12, "df": null, "note": null},
           {"key": "satterthwaite", ...}, {"key": "kenward-roger", ...},   # REML t
           {"key": "mi", ...}, {"key": "ipw", ...}]},   # coef null + note: not available
        ...]
    }

Which Table 2 inference the dashboard's headline shows is a study setting
(StudyTarget.headline_inference, read when the page is drawn, not stored in the run):
"auto" (Kenward-Roger when fewer than 10 clinics, else z), "z", "satterthwaite" or
"kenward-roger"; a model whose t results are missing shows its z results with the note.

Run-level metadata (status, timings, library versions, options, fingerprint, error)
lives in the ModelRun's own fields, not in `results`.
"""
from __future__ import annotations

import math
from typing import Any

# 2: the population rule of the paper ("completers"), exclusions per model, Pearson
# chi-square in Table 1 with Fisher's exact beside it, paired SDs in "change".
# 3: issue 19: per model "aic", "bic", "inference" (REML z, Satterthwaite, Kenward-Roger),
# "variance_tests", "profile_ci", "diagnostics"; attrition "mi", "ipw", "tipping_point";
# top-level "partnership" (side by side). Schema-2 runs still render, without them.
SCHEMA_VERSION = 3

POPULATIONS = {
    "completers": "Completers, every row with the model's variables (as published)",
    "completers_both_rows": "Completers with both rows complete (sensitivity analysis)",
    "all_available": "All patients, every row with the model's variables",
}
# Option values of earlier versions and the population that computes the same models.
# "complete_cases" dropped a patient unless both rows were complete; its Table 1 described
# every completer, not the patients analysed, so runs stored with it are marked outdated.
LEGACY_POPULATIONS = {"complete_cases": "completers_both_rows"}
DEFAULT_OPTIONS: dict[str, Any] = {"population": "completers", "reml": False}


# Table 2's small-sample inference (schema 3): the REML refit's methods, in stored order.
INFERENCE_METHODS: list[tuple[str, str]] = [
    ("z", "z (REML, normal approximation)"),
    ("satterthwaite", "Satterthwaite t"),
    ("kenward-roger", "Kenward-Roger t"),
]
# The study setting for the headline (StudyTarget.headline_inference). "z" is the run's own
# fit (ML as published unless the run asked for REML); the t methods are the REML refit's.
HEADLINE_CHOICES: list[tuple[str, str]] = [
    ("auto", "Kenward-Roger with fewer than 10 clinics, else z"),
    ("z", "z (normal approximation, as Stata's mixed and the paper)"),
    ("satterthwaite", "Satterthwaite t (REML)"),
    ("kenward-roger", "Kenward-Roger t (REML)"),
]
# Below this many clinics the clinic-level terms have few denominator df: "auto" uses KR.
KR_BELOW_CLINICS = 10
# The partnership coefficient side by side (schema 3 "partnership"), in this order.
PARTNERSHIP_ESTIMATES: list[tuple[str, str]] = [
    ("z", "z (as published)"),
    ("satterthwaite", "Satterthwaite t (REML)"),
    ("kenward-roger", "Kenward-Roger t (REML)"),
    ("mi", "Multiple imputation (m = 20)"),
    ("ipw", "Inverse probability weighting"),
]


def headline_method(setting: str, n_clinics: int | None) -> str:
    """The inference Table 2's headline shows: "z", "satterthwaite" or "kenward-roger"."""
    if setting == "auto":
        return "kenward-roger" if (n_clinics or 0) < KR_BELOW_CLINICS else "z"
    return setting if setting in dict(INFERENCE_METHODS) else "z"


def population_label(population: str) -> str:
    """The label of a population, including one stored by an earlier version."""
    if population in LEGACY_POPULATIONS:
        current = LEGACY_POPULATIONS[population]
        return f"{POPULATIONS[current]} [stored as '{population}' by an earlier version]"
    return POPULATIONS.get(population, population)

OUTCOMES: list[tuple[str, str]] = [
    ("pih_knowledge", "PIH knowledge"),
    ("pih_side_effects", "PIH side effects"),
    ("pih_symptoms", "PIH symptoms"),
    ("pih_adherence", "PIH treatment adherence"),
    ("pih_overall", "PIH overall"),
]

VARIANTS: list[dict[str, str]] = [
    {"key": "paper", "label": "As published",
     "description": "The paper's model: partnership at each timepoint and baseline "
                    "covariates, random intercepts for clinic and patient, ML."},
    {"key": "timepoint", "label": "Adding timepoint",
     "description": "The paper's model plus an indicator of the follow-up, so that the "
                    "partnership effect is not the passage of three months."},
    {"key": "between_within", "label": "Between and within patients",
     "description": "Partnership split into the patient's mean over the analysed rows "
                    "(between) and the deviation from it (within)."},
]


# Stata's `estat icc` names: the clinic ICC is the correlation of two measurements of
# different patients in one clinic; "patient|clinic" pools clinic and patient variances
# and is the correlation of two measurements of the same patient (in the same clinic).
ICC_LABELS = {"clinic": "clinic", "patient": "patient|clinic"}
NOT_CONVERGED = ("the optimiser could not certify the maximum of the likelihood: the "
                 "coefficients, CIs and p-values may be wrong; do not report them.")
ZERO_VARIANCE = ("the {level} variance is estimated at 0 (or the level could not be "
                 "estimated): the model has one level fewer, and its CIs treat that variance "
                 "as known to be 0, so they may be too narrow.")


def zero_variance_levels(model: dict[str, Any]) -> list[str]:
    """Random-intercept levels of a fitted model whose variance is 0 (boundary or dropped)."""
    dropped = set(model.get("dropped_levels", []))
    return [level for level, value in model.get("variances", {}).items()
            if level != "residual" and (level in dropped or value == 0)]


def clean_number(value: Any) -> float | int | None:
    """A JSON-safe number: NaN and infinities become None, numpy scalars plain Python."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    if float(number).is_integer() and hasattr(value, "dtype") and value.dtype.kind in "iu":
        return int(number)
    return number


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_p(p: float | None, *, missing: str = "\u2013", space: str = "\u00a0") -> str:
    """A p-value as the tables print it (3 decimals, "< 0.001" below); the console
    summary passes plain ASCII."""
    if p is None:
        return missing
    return f"<{space}0.001" if p < 0.001 else f"{p:.3f}"


def table2_summary(results: dict[str, Any], *, variant: str | None = None) -> str:
    """Table 2 as plain text: coefficient (95 % CI) p per term, one block per model."""
    lines = []
    labels = dict(OUTCOMES)
    table = results["table2"]
    lines.append(f"Table 2 ({population_label(table['population'])})")
    for model in table["models"]:
        if variant is not None and model["variant"] != variant:
            continue
        variant_label = next((v["label"] for v in table["variants"]
                              if v["key"] == model["variant"]), model["variant"])
        lines.append("")
        lines.append(f"{labels.get(model['outcome'], model['outcome'])} - {variant_label}: "
                     f"{model['n_obs']} observations, {model['n_patients']} patients, "
                     f"{model['n_clinics']} clinics")
        lines.extend(f"  excluded: {item['text']}" for item in model.get("exclusions", []))
        if not model["ok"]:
            lines.append(f"  NOT FITTED: {model['error']}")
            continue
        if not model["converged"]:
            lines.append("  NOT CONVERGED: " + NOT_CONVERGED)
        for term in model["terms"]:
            label = term["label"] + (f" (ref {term['reference']})" if term["reference"] else "")
            lines.append(f"  {label:<52} {_fmt(term['coef']):>8} "
                         f"({_fmt(term['ci_low'])} to {_fmt(term['ci_high'])})  "
                         f"p {format_p(term['p'], missing='-', space='')}")
        variances = ", ".join(f"{k} {_fmt(v)}" for k, v in model["variances"].items())
        iccs = ", ".join(f"{ICC_LABELS.get(k, k)} {_fmt(v, 3)}" for k, v in model["icc"].items())
        lines.append(f"  variances: {variances}; ICC: {iccs}")
        for level in zero_variance_levels(model):
            lines.append(f"  VARIANCE AT 0 ({level}): " + ZERO_VARIANCE.format(level=level))
        lines.extend(f"  warning: {text}" for text in model["warnings"])
    return "\n".join(lines)
