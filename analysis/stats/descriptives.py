"""Table 1 (characteristics by clinic), change from baseline, and attrition.

Every function takes the per-patient frame of `cohort.patients_wide` and returns the JSON
documented in analysis/stats/results.py. Tests across groups, as the paper's Table 1:
Kruskal-Wallis for medians (Mann-Whitney U for two groups), Pearson chi-square without
continuity correction for categories (Fisher's exact beside it, flagged, where an expected
count is below 5), one-way ANOVA for means (Welch's t-test for two groups).
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
# Resampling r x c tables costs time in proportion to n; beyond this many patients a small
# expected count is flagged without Fisher's p (the chi-square p is still shown).
FISHER_MAX_N = 5_000
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
            return "Mann-Whitney U", clean_number(stats.mannwhitneyu(*samples).pvalue)
        return "Kruskal-Wallis", clean_number(stats.kruskal(*samples).pvalue)
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


def contingency_test(table: np.ndarray) -> dict:
    """Pearson chi-square without continuity correction, as the paper reports.

    Where an expected count is below 5 the chi-square approximation is doubtful: Fisher's
    exact test is computed beside it (exact for 2x2 tables, Monte Carlo with a fixed seed
    for larger ones, as scipy offers no exact r x c test) and the variable is flagged.
    """
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    result = {"test": "Pearson chi-square", "p": None, "min_expected": None,
              "small_expected": False, "fisher_p": None}
    if table.shape[0] < 2 or table.shape[1] < 2:
        return result
    expected = stats.contingency.expected_freq(table)
    result["p"] = float(stats.chi2_contingency(table, correction=False).pvalue)
    result["min_expected"] = clean_number(expected.min())
    if (expected >= 5).all():
        return result
    result["small_expected"] = True
    result["fisher_p"] = fisher_exact_p(table)
    return result


def fisher_exact_p(table: np.ndarray) -> float | None:
    """Fisher's exact p (Monte Carlo beyond 2x2); None for tables too large to resample."""
    if table.shape == (2, 2):
        return float(stats.fisher_exact(table).pvalue)
    if table.sum() > FISHER_MAX_N:
        return None
    method = stats.MonteCarloMethod(n_resamples=FISHER_RESAMPLES,
                                    rng=np.random.default_rng(FISHER_SEED))
    return float(stats.fisher_exact(table, method=method).pvalue)


# --- variables: one block of rows with a test across the compared columns ----------------


def _values(rows: pd.DataFrame, name: str) -> np.ndarray:
    return rows[name].dropna().to_numpy(dtype=float)


def median_range_variable(columns: list[Column], tested: list[Column], *, key: str,
                          label: str) -> dict:
    cells = {}
    for column in columns:
        values = _values(column.rows, key)
        cells[column.key] = {"n": int(len(values)),
                             "median": clean_number(np.median(values)) if len(values) else None,
                             # quartiles as numpy's default (linear) interpolation, as R type 7
                             "q1": clean_number(np.percentile(values, 25)) if len(values) else None,
                             "q3": clean_number(np.percentile(values, 75)) if len(values) else None,
                             "min": clean_number(values.min()) if len(values) else None,
                             "max": clean_number(values.max()) if len(values) else None}
    test, p = rank_test([_values(c.rows, key) for c in tested])
    return {"key": key, "label": label, "kind": "median_range", "test": test, "p": p,
            "rows": [{"key": key, "label": f"{label}, median (IQR; range)", "cells": cells}]}


def categorical_variable(columns: list[Column], tested: list[Column], *, key: str, label: str,
                         levels: list[tuple[str, str]]) -> dict:
    # one count of every value per column (not one comparison per level and column): at
    # national scale Table 1 has 31 columns of up to 100,000 patients
    counts = {column.key: _category_counts(column.rows[key]) for column in columns}
    for column in tested:
        counts.setdefault(column.key, _category_counts(column.rows[key]))
    rows = []
    for level, level_label in levels:
        cells = {}
        for column in columns:
            answered = sum(counts[column.key].values())
            count = counts[column.key].get(level, 0)
            percent = 100 * count / answered if answered else None
            cells[column.key] = {"count": count, "percent": clean_number(percent)}
        rows.append({"key": level, "label": str(level_label), "cells": cells})
    table = np.array([[counts[c.key].get(level, 0) for level, _ in levels] for c in tested])
    missing = {c.key: int(len(c.rows) - sum(counts[c.key].values())) for c in columns}
    return {"key": key, "label": label, "kind": "categorical", **contingency_test(table),
            "rows": rows, "missing": missing}


def _category_counts(values: pd.Series) -> dict[str, int]:
    """Patients per category given (an empty string or None is missing)."""
    counts = values.value_counts(dropna=True)
    return {str(level): int(n) for level, n in counts.items() if level != ""}


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
    """Patients of the analysis population: completers, unless all patients are analysed.

    services.compute_results passes only the patients the Table 2 models analyse, so that
    Table 1 describes exactly them.
    """
    if population == "all_available":
        return patients
    return patients.loc[patients["has_baseline"] & patients["has_followup"]]


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
    """Mean change (follow-up minus baseline), its 95 % CI and a paired t-test.

    Means and SDs at each timepoint are over the same pairs as the change (patients
    with the score at both timepoints), so that the plot's bars match its change.
    """
    out = []
    for code in CHANGE_SCORES:
        pair = patients[[f"baseline_{code}", f"followup_{code}"]].dropna()
        before, after = pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy()
        out.append({"key": code, "label": score_label(code), "n": int(len(pair)),
                    "baseline_mean": clean_number(before.mean()) if len(pair) else None,
                    "followup_mean": clean_number(after.mean()) if len(pair) else None,
                    "baseline_sd": _sd(before), "followup_sd": _sd(after),
                    "test": "Paired t-test", **_paired(before, after)})
    return {"rows": out}


def _sd(values: np.ndarray) -> float | None:
    return clean_number(values.std(ddof=1)) if len(values) > 1 else None


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
