"""Completers against the patients lost: groups from the follow-up status, tests by scipy.

The expected values are computed here from the demo cohort's own rows (questionnaires.demo,
before any frame is built), split into groups by plain Python, and tested by scipy called
directly, so a wrong group, a wrong column or a wrong test in attrition.py shows.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.stats.attrition import compare_completers_lost, followup_groups
from analysis.stats.cohort import patients_wide
from analysis.tests.demo_frame import DEMO_END_DATE, demo_cohort_frame
from questionnaires.demo import generate_demo_cohort


@pytest.fixture(scope="module")
def patients():
    return patients_wide(demo_cohort_frame())


@pytest.fixture(scope="module")
def raw_groups():
    """Demo patient rows split by plain Python: followed up / lost / active."""
    demo = generate_demo_cohort(seed=2018, end_date=DEMO_END_DATE)
    followed = {a["study_id"] for a in demo.administration_rows()
                if a["timepoint"] == "followup"}
    groups = {"completers": [], "lost": [], "active": []}
    for row in demo.patient_rows():
        if row["study_id"] in followed:
            groups["completers"].append(row)
        elif row["followup_status"] == "active":
            groups["active"].append(row)
        else:
            groups["lost"].append(row)
    return groups


def test_groups_are_the_lost_not_every_baseline_only_patient(patients, raw_groups):
    groups = followup_groups(patients)
    assert groups.counts() == {key: len(rows) for key, rows in raw_groups.items()}
    assert set(groups.lost) == {row["study_id"] for row in raw_groups["lost"]}
    # the point: 35 lost, not the 62 without a follow-up row
    assert groups.counts() == {"completers": 85, "lost": 35, "active": 27}
    result = compare_completers_lost(patients)
    assert result.compared == ("completers", "lost")
    assert "85 completers against 35" in result.notes[0]


def test_age_and_counts_by_mann_whitney(patients, raw_groups):
    result = {v.key: v for v in compare_completers_lost(patients).variables}
    for key in ("age", "pain_years", "pain_sites"):
        a = np.array([row[key] for row in raw_groups["completers"]], float)
        b = np.array([row[key] for row in raw_groups["lost"]], float)
        expected = stats.mannwhitneyu(a, b, alternative="two-sided")
        assert result[key].test == "Mann-Whitney U"
        assert result[key].p == pytest.approx(expected.pvalue, rel=1e-12)
        assert result[key].summary["lost"]["median"] == np.median(b)
        assert result[key].summary["completers"]["q3"] == np.percentile(a, 75)


def test_categories_by_chi_square_or_fisher(patients, raw_groups):
    result = {v.key: v for v in compare_completers_lost(patients).variables}
    for key, codes in (("gender", ["male", "female", "other"]),
                       ("ethnicity", ["white_british", "non_british"]),
                       ("education", ["none", "below_a_level", "a_level_or_above"])):
        table = np.array([[sum(r[key] == c for r in raw_groups[g]) for g in ("completers",
                                                                            "lost")]
                          for c in codes])
        table = table[table.sum(axis=1) > 0]
        expected = stats.contingency.expected_freq(table)
        variable = result[key]
        if (expected >= 5).all():
            assert variable.test == "Pearson chi-square"
            reference = stats.chi2_contingency(table, correction=False).pvalue
        else:
            assert variable.test == "Fisher exact"
            assert table.shape == (2, 2)  # the demo's small cell is ethnicity
            reference = stats.fisher_exact(table).pvalue
        assert variable.p == pytest.approx(reference, rel=1e-12)
        assert variable.min_expected == pytest.approx(expected.min())
    # ethnicity has an expected count below 5 in the lost group (18 % of 35)
    assert result["ethnicity"].test == "Fisher exact"


def test_pain_sites_groups_counted_from_the_raw_counts(patients, raw_groups):
    variable = next(v for v in compare_completers_lost(patients).variables
                    if v.key == "pain_sites_group")

    def group(sites):
        return "1" if sites <= 1 else "2" if sites == 2 else "ge3"

    for level in variable.levels:
        for name in ("completers", "lost"):
            expected = sum(group(r["pain_sites"]) == level.key for r in raw_groups[name])
            assert getattr(level, name) == expected


def test_baseline_scores_by_welch(patients):
    # scores come from the scored frame; split it by the raw status independently
    result = {v.key: v for v in compare_completers_lost(patients).variables}
    lost = patients.loc[~patients["has_followup"] & (patients["followup_status"] == "lost")]
    done = patients.loc[patients["has_followup"]]
    for code in ("ppic_partnership", "pih_overall", "bpi_severity", "pih_knowledge"):
        column = f"baseline_{code}"
        a, b = done[column].dropna().to_numpy(), lost[column].dropna().to_numpy()
        variable = result[column]
        assert variable.test == "Welch t-test"
        assert variable.p == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue,
                                           rel=1e-12)
        # standardised difference by hand: (lost - completers) / sqrt((s1^2 + s2^2) / 2)
        smd = (b.mean() - a.mean()) / np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
        assert variable.std_difference == pytest.approx(smd)
        assert variable.missing["completers"] == int(done[column].isna().sum())


def test_every_variable_has_a_named_test_and_a_reason(patients):
    result = compare_completers_lost(patients)
    assert len(result.variables) == 1 + 5 + 2 + 8
    assert all(v.test and v.why for v in result.variables)
    frame = result.to_frame()
    assert list(frame["key"])[:2] == ["age", "gender"]


def test_no_one_lost_gives_a_note_not_a_crash(patients):
    completers_only = patients.loc[patients["has_followup"]]
    result = compare_completers_lost(completers_only)
    assert result.groups["lost"] == 0
    assert any("no patient lost" in note for note in result.notes)
    assert all(v.p is None for v in result.variables)
