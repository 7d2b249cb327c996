"""Table 1's categorical tests reproduce the paper's p-values from its published counts.

Fu et al. 2018, Table 1 (103 completers: clinic A 31, B 51, C 21). The per-clinic counts
are copied here from the study summary; the five published p-values are Pearson
chi-square without continuity correction, to 3 decimals.
"""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats import descriptives

CLINICS = ("A", "B", "C")
# variable -> {category: (A, B, C)}, and the paper's p across clinics
PUBLISHED = {
    "gender": ({"male": (9, 16, 9), "female": (22, 35, 12)}, 0.548),
    "ethnicity": ({"non_british": (10, 6, 3), "white_british": (21, 45, 18)}, 0.058),
    "education": ({"none": (6, 20, 6), "below_a_level": (20, 19, 14),
                   "a_level_or_above": (5, 12, 1)}, 0.049),
    "pain_years_group": ({"le4": (13, 20, 3), "5to7": (2, 10, 4), "ge8": (16, 21, 14)}, 0.107),
    "pain_sites_group": ({"1": (5, 11, 4), "2": (10, 21, 8), "ge3": (16, 19, 9)}, 0.803),
}
CLINIC_SIZES = {"A": 31, "B": 51, "C": 21}


def _column(counts: dict[str, tuple[int, int, int]], clinic_index: int) -> list[str]:
    return [category for category, by_clinic in counts.items()
            for _ in range(by_clinic[clinic_index])]


def paper_patients() -> pd.DataFrame:
    """One row per completer with the published category counts in each clinic.

    Categories of different variables are paired arbitrarily within a clinic: Table 1
    tests each variable against clinic on its own, so only these counts matter.
    """
    parts = []
    for index, clinic in enumerate(CLINICS):
        size = CLINIC_SIZES[clinic]
        part = pd.DataFrame({"study_id": [f"{clinic}-{i:03d}" for i in range(size)],
                             "clinic": clinic, "age": np.arange(size, dtype=float) + 20,
                             "has_baseline": True, "has_followup": True})
        for variable, (counts, _) in PUBLISHED.items():
            part[variable] = _column(counts, index)
        parts.append(part)
    patients = pd.concat(parts, ignore_index=True)
    for timepoint in ("baseline", "followup"):
        for code in descriptives.MEAN_SD_SCORES:
            patients[f"{timepoint}_{code}"] = np.nan
    return patients


@pytest.fixture(scope="module")
def table1() -> dict:
    return descriptives.table1(paper_patients(), population="completers")


def test_paper_counts_rebuild_the_published_clinic_sizes(table1):
    assert [(c["key"], c["n"]) for c in table1["columns"]] == [
        ("overall", 103), ("A", 31), ("B", 51), ("C", 21)]


@pytest.mark.parametrize("variable", list(PUBLISHED))
def test_categorical_p_values_reproduce_the_paper_to_3_decimals(table1, variable):
    result = next(v for v in table1["variables"] if v["key"] == variable)
    assert result["test"] == "Pearson chi-square"
    assert round(result["p"], 3) == PUBLISHED[variable][1]


@pytest.mark.parametrize("variable", list(PUBLISHED))
def test_published_p_values_are_scipy_pearson_chi_square_on_the_counts(variable):
    counts, published = PUBLISHED[variable]
    table = np.array(list(counts.values()))
    assert round(stats.chi2_contingency(table, correction=False).pvalue, 3) == published


def test_small_expected_counts_are_flagged_with_fisher_exact_beside_them(table1):
    # clinic C (21 of 103) is small: e.g. education "A level and above", 18 x 21 / 103 = 3.7
    # expected; gender is the one variable whose every expected count is at least 5
    flagged = {v["key"]: v for v in table1["variables"] if v.get("small_expected")}
    assert set(flagged) == {"ethnicity", "education", "pain_years_group", "pain_sites_group"}
    assert flagged["education"]["min_expected"] == pytest.approx(18 * 21 / 103)
    assert flagged["pain_years_group"]["min_expected"] == pytest.approx(16 * 21 / 103)
    assert flagged["ethnicity"]["fisher_p"] == pytest.approx(
        stats.fisher_exact(np.array([[10, 6, 3], [21, 45, 18]]), method=stats.MonteCarloMethod(
            n_resamples=100_000, rng=np.random.default_rng(5))).pvalue, abs=0.01)
