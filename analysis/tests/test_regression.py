"""Table 2 models: coefficients against statsmodels MixedLM (ML), terms and populations."""
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from analysis.stats import regression
from analysis.stats.cohort import load_cohort, patients_wide
from analysis.tests.factories import build_cohort


@pytest.fixture
def frame(db) -> pd.DataFrame:
    build_cohort(seed=3, sizes={"A": 40, "B": 60, "C": 35})
    cohort = load_cohort()
    return regression.model_frame(cohort, patients_wide(cohort))


def _statsmodels_fit(rows: pd.DataFrame, formula: str):
    model = smf.mixedlm(formula, rows, groups="clinic", re_formula="1",
                        vc_formula={"patient": "0 + C(patient)"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(reml=False, method=["lbfgs", "powell"], maxiter=2000)


@pytest.mark.parametrize("variant", ["paper", "timepoint", "between_within"])
def test_coefficients_match_statsmodels_mixedlm_by_ml(frame, variant):
    result = regression.fit_model(frame, "pih_overall", variant, population="completers")
    rows = regression.analysed_rows(frame, "pih_overall", population="completers")
    reference = _statsmodels_fit(rows, result["formula"])
    assert result["ok"]
    for term in result["terms"]:
        assert term["coef"] == pytest.approx(reference.fe_params[term["term"]], rel=1e-3,
                                             abs=1e-6), term["term"]
    assert result["loglik"] == pytest.approx(reference.llf, rel=1e-4)


def test_paper_model_has_the_papers_terms_with_their_reference_categories(frame):
    result = regression.fit_model(frame, "pih_knowledge", "paper", population="completers")
    references = {t["term"]: t["reference"] for t in result["terms"]}
    assert references == {
        "Intercept": None, "partnership": None, "age": None, "female": "male",
        "white_british": "non-British", "education_below_a_level": "no qualifications",
        "education_a_level_or_above": "no qualifications", "baseline_severity": None,
        "pain_years_5to7": "<= 4 years", "pain_years_ge8": "<= 4 years",
        "pain_sites_2": "1 site", "pain_sites_ge3": "1 site"}
    for term in result["terms"]:
        assert term["ci_low"] < term["coef"] < term["ci_high"]
        assert 0 <= term["p"] <= 1
    assert set(result["variances"]) == {"clinic", "patient", "residual"}
    assert set(result["icc"]) == {"clinic", "patient"}


def test_timepoint_variant_adds_the_follow_up_indicator(frame):
    result = regression.fit_model(frame, "pih_knowledge", "timepoint",
                                  population="completers")
    assert [t["term"] for t in result["terms"]][:3] == ["Intercept", "partnership", "followup"]


def test_between_within_split_uses_each_patients_mean_over_the_analysed_rows(frame):
    rows = regression.analysed_rows(frame, "pih_symptoms", population="all_available")
    one_row_patients = rows.groupby("patient").size().loc[lambda s: s == 1].index
    assert len(one_row_patients) > 0
    single = rows.loc[rows["patient"].isin(one_row_patients)]
    assert (single["partnership_within"] == 0).all()
    assert np.allclose(single["partnership_between"], single["partnership"])
    pairs = rows.loc[~rows["patient"].isin(one_row_patients)]
    means = pairs.groupby("patient")["partnership"].mean()
    assert np.allclose(pairs["partnership_between"], pairs["patient"].map(means))
    assert np.allclose(pairs.groupby("patient")["partnership_within"].sum(), 0)


def test_both_rows_sensitivity_keeps_only_patients_analysed_at_both_timepoints(frame):
    complete = regression.analysed_rows(frame, "pih_overall", population="completers_both_rows")
    everyone = regression.analysed_rows(frame, "pih_overall", population="all_available")
    assert (complete.groupby("patient").size() == 2).all()
    assert len(everyone) > len(complete)
    result = regression.fit_model(frame, "pih_overall", "paper", population="all_available")
    assert (result["n_obs"], result["n_patients"]) == (len(everyone),
                                                       everyone["patient"].nunique())


def test_a_model_with_too_little_data_reports_its_error_instead_of_raising(frame):
    few = frame.loc[frame["patient"].isin(frame["patient"].unique()[:3])]
    result = regression.fit_model(few, "pih_overall", "paper", population="completers")
    assert not result["ok"]
    assert result["error"]
    assert result["terms"] == []


def test_a_category_nobody_has_is_left_out_with_a_warning(frame):
    frame = frame.assign(pain_sites_2=0.0, pain_sites_ge3=frame["pain_sites_ge3"]
                         .where(frame["pain_sites_ge3"].isna(), 0.0))
    result = regression.fit_model(frame, "pih_overall", "paper", population="completers")
    assert result["ok"]
    assert "pain_sites_2" not in {t["term"] for t in result["terms"]}
    assert any("2 pain sites" in text for text in result["warnings"])


def test_table2_has_every_outcome_for_every_variant(frame, db):
    cohort = load_cohort()
    table = regression.table2(cohort, patients_wide(cohort), population="completers")
    pairs = [(m["variant"], m["outcome"]) for m in table["models"]]
    assert len(pairs) == 15 and len(set(pairs)) == 15
    assert [o["key"] for o in table["outcomes"]] == [
        "pih_knowledge", "pih_side_effects", "pih_symptoms", "pih_adherence", "pih_overall"]
