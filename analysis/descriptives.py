"""Table 1 (characteristics by clinic), change from baseline, and attrition.

Every function takes the per-patient frame of `cohort.patients_wide` and returns the JSON
documented in analysis/results.py. Tests across groups: Kruskal-Wallis for age
(Mann-Whitney U for two groups), chi-square for categories unless an expected count is
below 5 (then Fisher's exact: exact for 2x2 tables, Monte Carlo with a fixed seed for
larger ones, as scipy offers no exact r x c test), one-way ANOVA for means (Welch's
t-test for two groups).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from patients.models import Education, Ethnicity, FollowUpStatus, Gender, LostReason
from questionnaires.instruments import PIH_SCORE_CODES, SCALES_BY_CODE

from .cohort import PAIN_SITES_GROUPS, PAIN_YEARS_GROUPS
from .results import clean_number

FISHER_RESAMPLES = 100_000
FISHER_SEED = 20180  # fixed, so that a p-value does not move between identical runs
MEAN_SD_SCORES = ("bpi_severity", "bpi_interference", "ppic_partnership", *PIH_SCORE_CODES)
CHANGE_SCORES = ("ppic_partnership", *PIH_SCORE_CODES)
CATEGORICALS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("gender", "Gender", list(Gender.choices)),
    ("ethnicity", "Ethnicity", list(Ethnicity.choices)),
    ("education", "Education", list(Education.choices)),
    ("pain_years_group", "Years of pain", PAIN_YEARS_GROUPS),
    ("pain_sites_group", "Number of pain sites", PAIN_SITES_GROUPS),
]
TIMEPOINT_LABELS = {"baseline": "baseline", "followup": "follow-up"}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    rows: pd.DataFrame


def score_label(code: str) -> str:
    return "Partnership (PPiC)" if code == "ppic_partnership" else SCALES_BY_CODE[code].label


# --- tests --------------------------------------------------------------------------


def rank_test(samples: Sequence[np.ndarray]) -> tuple[str, float | None]:
    """Kruskal-Wallis across groups (Mann-Whitney U for two groups)."""
    samples = [s for s in samples if len(s)]
    if len(samples) < 2:
        return ("Mann-Whitney U" if len(samples) == 2 else "Kruskal-Wallis"), None
    try:
        if len(samples) == 2:
            return "Mann-Whitney U", float(stats.mannwhitneyu(*samples).pvalue)
        return "Kruskal-Wallis", float(stats.kruskal(*samples).pvalue)
    except ValueError:  # every value identical: no ranks to compare
        return ("Mann-Whitney U" if len(samples) == 2 else "Kruskal-Wallis"), None


def means_test(samples: Sequence[np.ndarray], *, two_groups: bool) -> tuple[str, float | None]:
    """One-way ANOVA across groups; Welch's t-test when comparing two groups."""
    name = "Welch t-test" if two_groups else "One-way ANOVA"
    samples = [s for s in samples if len(s)]
    if len(samples) < 2 or sum(len(s) for s in samples) <= len(samples):
        return name, None
    if two_groups:
        p = stats.ttest_ind(*samples, equal_var=False).pvalue
    else:
        p = stats.f_oneway(*samples).pvalue
    return name, clean_number(p)


def contingency_test(table: np.ndarray) -> tuple[str, float | None]:
    """Chi-square, or Fisher's exact when any expected count is below 5."""
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return "Chi-square", None
    expected = stats.contingency.expected_freq(table)
    if (expected >= 5).all():
        return "Chi-square", float(stats.chi2_contingency(table, correction=False).pvalue)
    if table.shape == (2, 2):
        return "Fisher's exact", float(stats.fisher_exact(table).pvalue)
    method = stats.MonteCarloMethod(n_resamples=FISHER_RESAMPLES,
                                    rng=np.random.default_rng(FISHER_SEED))
    return "Fisher's exact", float(stats.fisher_exact(table, method=method).pvalue)


# --- variables: one block of rows with a test across the compared columns ----------------


def _values(rows: pd.DataFrame, name: str) -> np.ndarray:
    return rows[name].dropna().to_numpy(dtype=float)


def _answered(values: pd.Series) -> pd.Series:
    """Categories given (an empty string or None is missing)."""
    return values[values.notna() & (values != "")]


def median_range_variable(columns: list[Column], tested: list[Column], *, key: str,
                          label: str) -> dict:
    cells = {}
    for column in columns:
        values = _values(column.rows, key)
        cells[column.key] = {"n": int(len(values)),
                             "median": clean_number(np.median(values)) if len(values) else None,
                             "min": clean_number(values.min()) if len(values) else None,
                             "max": clean_number(values.max()) if len(values) else None}
    test, p = rank_test([_values(c.rows, key) for c in tested])
    return {"key": key, "label": label, "kind": "median_range", "test": test, "p": p,
            "rows": [{"key": key, "label": f"{label}, median (range)", "cells": cells}]}


def categorical_variable(columns: list[Column], tested: list[Column], *, key: str, label: str,
                         levels: list[tuple[str, str]]) -> dict:
    rows = []
    for level, level_label in levels:
        cells = {}
        for column in columns:
            answered = _answered(column.rows[key])
            count = int((answered == level).sum())
            percent = 100 * count / len(answered) if len(answered) else None
            cells[column.key] = {"count": count, "percent": clean_number(percent)}
        rows.append({"key": level, "label": str(level_label), "cells": cells})
    table = np.array([[int((c.rows[key] == level).sum()) for level, _ in levels]
                      for c in tested])
    test, p = contingency_test(table)
    missing = {c.key: int(len(c.rows) - len(_answered(c.rows[key]))) for c in columns}
    return {"key": key, "label": label, "kind": "categorical", "test": test, "p": p,
            "rows": rows, "missing": missing}


def mean_sd_variable(columns: list[Column], tested: list[Column], *, key: str,
                     label: str) -> dict:
    cells = {}
    for column in columns:
        values = _values(column.rows, key)
        cells[column.key] = {"n": int(len(values)),
                             "mean": clean_number(values.mean()) if len(values) else None,
                             "sd": clean_number(values.std(ddof=1)) if len(values) > 1
                             else None}
    test, p = means_test([_values(c.rows, key) for c in tested], two_groups=len(tested) == 2)
    return {"key": key, "label": label, "kind": "mean_sd", "test": test, "p": p,
            "rows": [{"key": key, "label": f"{label}, mean (SD)", "cells": cells}]}


def characteristic_variables(columns: list[Column], tested: list[Column], *,
                             timepoints: Sequence[str]) -> list[dict]:
    """Age, the categories, then mean (SD) of every score at each timepoint."""
    variables = [median_range_variable(columns, tested, key="age", label="Age (years)")]
    for key, label, levels in CATEGORICALS:
        variables.append(categorical_variable(columns, tested, key=key, label=label,
                                              levels=levels))
    for timepoint in timepoints:
        for code in MEAN_SD_SCORES:
            variables.append(mean_sd_variable(
                columns, tested, key=f"{timepoint}_{code}",
                label=f"{score_label(code)}, {TIMEPOINT_LABELS[timepoint]}"))
    return variables


# --- the three tables ------------------------------------------------------------------


def population_rows(patients: pd.DataFrame, population: str) -> pd.DataFrame:
    """Patients of the analysis population (complete cases: both timepoints)."""
    if population == "complete_cases":
        return patients.loc[patients["has_baseline"] & patients["has_followup"]]
    return patients


def table1(patients: pd.DataFrame, *, population: str) -> dict:
    """Characteristics overall and by clinic, with a p-value across clinics per variable."""
    rows = population_rows(patients, population)
    clinics = [Column(code, code, group) for code, group in
               sorted(rows.groupby("clinic"), key=lambda item: item[0])]
    columns = [Column("overall", "Overall", rows), *clinics]
    return {
        "population": population,
        "columns": [{"key": c.key, "label": c.label, "n": int(len(c.rows))} for c in columns],
        "variables": characteristic_variables(columns, clinics,
                                              timepoints=("baseline", "followup")),
    }


def change_from_baseline(patients: pd.DataFrame) -> dict:
    """Mean change (follow-up minus baseline), its 95 % CI and a paired t-test."""
    out = []
    for code in CHANGE_SCORES:
        pair = patients[[f"baseline_{code}", f"followup_{code}"]].dropna()
        before, after = pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy()
        out.append({"key": code, "label": score_label(code), "n": int(len(pair)),
                    "baseline_mean": clean_number(before.mean()) if len(pair) else None,
                    "followup_mean": clean_number(after.mean()) if len(pair) else None,
                    "test": "Paired t-test", **_paired(before, after)})
    return {"rows": out}


def _paired(before: np.ndarray, after: np.ndarray) -> dict:
    empty = {"mean_change": None, "sd_change": None, "ci_low": None, "ci_high": None,
             "statistic": None, "p": None}
    if len(before) < 2:
        return {**empty, "mean_change": clean_number((after - before).mean())
                if len(before) else None}
    diff = after - before
    mean, sd = diff.mean(), diff.std(ddof=1)
    half = stats.t.ppf(0.975, len(diff) - 1) * sd / np.sqrt(len(diff))
    result = stats.ttest_rel(after, before)
    return {"mean_change": clean_number(mean), "sd_change": clean_number(sd),
            "ci_low": clean_number(mean - half), "ci_high": clean_number(mean + half),
            "statistic": clean_number(result.statistic), "p": clean_number(result.pvalue)}


def attrition(patients: pd.DataFrame) -> dict:
    """Completers against patients lost to follow-up, on every baseline characteristic.

    Patients without a follow-up who are still active (not yet due) are in neither group.
    """
    baseline = patients.loc[patients["has_baseline"]]
    completers = baseline.loc[baseline["has_followup"]]
    without = baseline.loc[~baseline["has_followup"]]
    lost = without.loc[without["followup_status"] != FollowUpStatus.ACTIVE]
    groups = [Column("completers", "Completers", completers),
              Column("lost", "Lost to follow-up", lost)]
    reasons = [{"key": key, "label": str(label), "n": int((lost["lost_reason"] == key).sum())}
               for key, label in LostReason.choices]
    unexplained = int((~lost["lost_reason"].isin(LostReason.values)).sum())
    if unexplained:
        reasons.append({"key": "other", "label": "No reason recorded", "n": unexplained})
    return {
        "groups": [{"key": g.key, "label": g.label, "n": int(len(g.rows))} for g in groups],
        "lost_reasons": reasons,
        "not_yet_due": int(len(without) - len(lost)),
        "variables": characteristic_variables(groups, groups, timepoints=("baseline",)),
    }
