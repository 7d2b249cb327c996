"""Table 1, change from baseline and attrition, checked against scipy called directly."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats import descriptives
from analysis.stats.cohort import load_cohort, patients_wide
from analysis.tests.factories import build_cohort


@pytest.fixture
def patients(db) -> pd.DataFrame:
    build_cohort(seed=11)
    return patients_wide(load_cohort())


@pytest.fixture
def completers(patients) -> pd.DataFrame:
    return patients.loc[patients["has_baseline"] & patients["has_followup"]]


def _variable(table: dict, key: str) -> dict:
    return next(v for v in table["variables"] if v["key"] == key)


def _by_clinic(frame: pd.DataFrame, column: str) -> list[np.ndarray]:
    return [group[column].dropna().to_numpy(float) for _, group in frame.groupby("clinic")]


def test_table1_columns_are_overall_then_each_clinic_with_completer_counts(patients,
                                                                          completers):
    table = descriptives.table1(patients, population="completers")
    assert [(c["key"], c["n"]) for c in table["columns"]] == [
        ("overall", len(completers)),
        *[(code, len(group)) for code, group in completers.groupby("clinic")]]


def test_table1_all_available_population_includes_patients_without_follow_up(patients):
    table = descriptives.table1(patients, population="all_available")
    assert table["columns"][0]["n"] == len(patients)
    assert table["columns"][0]["n"] > int(patients["has_followup"].sum())


def test_table1_age_is_median_and_range_with_kruskal_wallis_across_clinics(patients,
                                                                          completers):
    age = _variable(descriptives.table1(patients, population="completers"), "age")
    assert age["test"] == "Kruskal-Wallis"
    assert age["p"] == pytest.approx(stats.kruskal(*_by_clinic(completers, "age")).pvalue)
    overall = age["rows"][0]["cells"]["overall"]
    assert (overall["median"], overall["min"], overall["max"]) == (
        completers["age"].median(), completers["age"].min(), completers["age"].max())


def test_table1_age_gives_its_interquartile_range(patients, completers):
    age = _variable(descriptives.table1(patients, population="completers"), "age")
    overall = age["rows"][0]["cells"]["overall"]
    assert age["rows"][0]["label"] == "Age (years), median (IQR; range)"
    ages = sorted(completers["age"].dropna())
    # R's type 7 quartile, by hand: the value at position (n - 1) p, interpolated
    def quartile(p):
        position = (len(ages) - 1) * p
        low = int(position)
        high = min(low + 1, len(ages) - 1)
        return ages[low] + (ages[high] - ages[low]) * (position - low)
    assert overall["q1"] == pytest.approx(quartile(0.25))
    assert overall["q3"] == pytest.approx(quartile(0.75))
    assert overall["q1"] <= overall["median"] <= overall["q3"]


def test_table1_category_counts_percentages_and_chi_square(patients, completers):
    gender = _variable(descriptives.table1(patients, population="completers"), "gender")
    crosstab = pd.crosstab(completers["clinic"], completers["gender"])
    assert gender["test"] == "Pearson chi-square"
    assert gender["p"] == pytest.approx(
        stats.chi2_contingency(crosstab.to_numpy(), correction=False).pvalue)
    female = next(r for r in gender["rows"] if r["key"] == "female")
    assert female["cells"]["overall"]["count"] == int((completers["gender"] == "female").sum())
    assert female["cells"]["overall"]["percent"] == pytest.approx(
        100 * (completers["gender"] == "female").mean())


def test_small_expected_count_keeps_pearson_p_and_adds_fisher_exact_beside_it(db):
    # two clinics x two categories, with a rare category: Fisher's exact test (2 x 2)
    frame = pd.DataFrame({"clinic": ["A"] * 12 + ["B"] * 10,
                          "ethnicity": ["non_british"] * 1 + ["white_british"] * 11
                          + ["non_british"] * 5 + ["white_british"] * 5})
    columns = [descriptives.Column(code, code, group) for code, group in frame.groupby("clinic")]
    result = descriptives.categorical_variable(
        columns, columns, key="ethnicity", label="Ethnicity",
        levels=[("white_british", "White British"), ("non_british", "Non-British")])
    assert result["test"] == "Pearson chi-square"
    assert result["p"] == pytest.approx(
        stats.chi2_contingency([[11, 1], [5, 5]], correction=False).pvalue)
    assert result["small_expected"] is True
    assert result["min_expected"] == pytest.approx(6 * 10 / 22)
    assert result["fisher_p"] == pytest.approx(stats.fisher_exact([[11, 1], [5, 5]]).pvalue)


def test_no_fisher_p_when_every_expected_count_is_at_least_5():
    result = descriptives.contingency_test(np.array([[20, 25], [22, 30]]))
    assert (result["small_expected"], result["fisher_p"]) == (False, None)


def test_fisher_exact_for_larger_tables_is_reproducible_and_agrees_with_scipy_monte_carlo():
    table = np.array([[3, 1, 6], [2, 7, 1], [4, 0, 5]])
    first = descriptives.contingency_test(table)
    assert first == descriptives.contingency_test(table)  # fixed seed: no run-to-run noise
    assert first["small_expected"]
    # independent check: scipy's own Monte Carlo estimate with another seed agrees closely
    other = stats.fisher_exact(table, method=stats.MonteCarloMethod(
        n_resamples=100_000, rng=np.random.default_rng(1))).pvalue
    assert first["fisher_p"] == pytest.approx(other, abs=0.01)


def test_table1_means_with_one_way_anova(patients, completers):
    table = descriptives.table1(patients, population="completers")
    for key in ("baseline_ppic_partnership", "followup_pih_overall", "baseline_bpi_severity"):
        variable = _variable(table, key)
        assert variable["test"] == "One-way ANOVA"
        assert variable["p"] == pytest.approx(stats.f_oneway(*_by_clinic(completers, key)).pvalue)
        cell = variable["rows"][0]["cells"]["overall"]
        assert cell["mean"] == pytest.approx(completers[key].mean())
        assert cell["sd"] == pytest.approx(completers[key].std())


def test_table1_has_every_characteristic_and_score_at_both_timepoints(patients):
    keys = [v["key"] for v in descriptives.table1(patients, population="completers")
            ["variables"]]
    assert keys[:6] == ["age", "gender", "ethnicity", "education", "pain_years_group",
                        "pain_sites_group"]
    for score in ("bpi_severity", "bpi_interference", "ppic_partnership", "pih_knowledge",
                  "pih_side_effects", "pih_symptoms", "pih_adherence", "pih_overall"):
        assert f"baseline_{score}" in keys and f"followup_{score}" in keys


def test_change_from_baseline_matches_a_paired_t_test(patients, completers):
    rows = {r["key"]: r for r in descriptives.change_from_baseline(patients)["rows"]}
    assert list(rows) == ["ppic_partnership", "pih_knowledge", "pih_side_effects",
                          "pih_symptoms", "pih_adherence", "pih_overall"]
    for code, row in rows.items():
        before, after = completers[f"baseline_{code}"], completers[f"followup_{code}"]
        diff = after - before
        reference = stats.ttest_rel(after, before)
        interval = reference.confidence_interval(0.95)
        assert row["n"] == len(completers)
        assert row["mean_change"] == pytest.approx(diff.mean())
        assert row["p"] == pytest.approx(reference.pvalue)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((interval.low, interval.high))
        # the plot's bars: SDs of the same pairs
        assert row["baseline_sd"] == pytest.approx(before.std(ddof=1))
        assert row["followup_sd"] == pytest.approx(after.std(ddof=1))


def test_attrition_compares_completers_with_patients_lost_to_follow_up(patients, completers):
    result = descriptives.attrition(patients)
    lost = patients.loc[~patients["has_followup"]]
    assert [(g["key"], g["n"]) for g in result["groups"]] == [
        ("completers", len(completers)), ("lost", len(lost))]
    age = _variable(result, "age")
    assert age["test"] == "Mann-Whitney U"
    assert age["p"] == pytest.approx(stats.mannwhitneyu(completers["age"], lost["age"]).pvalue)
    severity = _variable(result, "baseline_bpi_severity")
    assert severity["test"] == "Welch t-test"
    assert severity["p"] == pytest.approx(stats.ttest_ind(
        completers["baseline_bpi_severity"], lost["baseline_bpi_severity"],
        equal_var=False).pvalue)
    reasons = {r["key"]: r["n"] for r in result["lost_reasons"]}
    assert reasons["discharged"] == int((lost["lost_reason"] == "discharged").sum())
    assert not any(v["key"].startswith("followup_") for v in result["variables"])


def test_attrition_leaves_active_patients_not_yet_due_out_of_both_groups(patients):
    still_active = patients.index[~patients["has_followup"]][:3]
    patients.loc[still_active, ["followup_status", "lost_reason"]] = ["active", ""]
    result = descriptives.attrition(patients)
    assert result["not_yet_due"] == 3
    assert result["groups"][1]["n"] == int((~patients["has_followup"]).sum()) - 3


def test_a_variable_with_a_single_clinic_has_no_p_value():
    frame = pd.DataFrame({"clinic": ["A"] * 5, "age": [30, 40, 50, 60, 70]})
    columns = [descriptives.Column("A", "A", frame)]
    assert descriptives.median_range_variable(columns, columns, key="age",
                                              label="Age")["p"] is None
