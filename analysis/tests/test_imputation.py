"""Multiple imputation: Rubin's rules by hand, the imputation model against statsmodels OLS,
its posterior draws, the completed data sets and the tipping point, on the demo cohort."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from analysis.stats import imputation
from analysis.stats.cohort import patients_wide
from analysis.stats.imputation import (
    SCORE_COLUMNS,
    draw_norm,
    fit_norm,
    long_cohort,
    multiple_imputation,
    pool_rubin,
    tipping_point,
)
from analysis.stats.regression import model_frame
from analysis.tests.demo_frame import demo_cohort_frame


@pytest.fixture(scope="module")
def patients():
    return patients_wide(demo_cohort_frame())


@pytest.fixture(scope="module")
def mi(patients):
    return multiple_imputation(patients, m=20, outcomes=["pih_adherence"], variants=["paper"])


# --- Rubin's rules ------------------------------------------------------------------------


def test_rubin_by_hand():
    q = [1.0, 1.2, 0.9, 1.1, 1.3]
    u = [0.04, 0.05, 0.045, 0.05, 0.055]
    # by hand: qbar 1.1; ubar 0.048; B = sum((q - 1.1)^2) / 4 = 0.1 / 4 = 0.025;
    # T = 0.048 + 1.2 * 0.025 = 0.078; lambda = 0.03 / 0.078
    lam = 0.03 / 0.078
    df_old = 4 / lam ** 2
    df_obs = 51 / 53 * 50 * (1 - lam)  # Barnard-Rubin with 50 complete-data df
    df = df_old * df_obs / (df_old + df_obs)
    pooled = pool_rubin(q, u, df_complete=50)
    assert pooled.estimate == pytest.approx(1.1)
    assert pooled.within == pytest.approx(0.048)
    assert pooled.between == pytest.approx(0.025)
    assert pooled.total == pytest.approx(0.078)
    assert pooled.df == pytest.approx(df)
    half = stats.t.ppf(0.975, df) * np.sqrt(0.078)
    assert (pooled.ci_low, pooled.ci_high) == pytest.approx((1.1 - half, 1.1 + half))
    assert pooled.p == pytest.approx(2 * stats.t.sf(1.1 / np.sqrt(0.078), df))
    assert pooled.riv == pytest.approx(0.03 / 0.048)
    # Rubin's (1987) df without a complete-data df
    assert pool_rubin(q, u).df == pytest.approx(df_old)


def test_rubin_without_between_variance_is_the_complete_data_result():
    pooled = pool_rubin([2.0, 2.0, 2.0], [0.25, 0.25, 0.25])
    assert pooled.se == pytest.approx(0.5)
    assert pooled.ci_low == pytest.approx(2.0 - stats.norm.ppf(0.975) * 0.5)
    with pytest.raises(ValueError, match="at least 2"):
        pool_rubin([1.0], [0.1])


# --- the imputation model -----------------------------------------------------------------


def _regression_data(seed=3, n=60):
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n),
                         rng.normal(40, 8, n)])
    y = x @ np.array([5.0, 2.0, -1.0, 0.3]) + rng.normal(0, 1.5, n)
    return x, y


def test_imputation_model_equals_statsmodels_ols(monkeypatch):
    x, y = _regression_data()
    ols = sm.OLS(y, x).fit()
    monkeypatch.setattr(imputation, "RIDGE", 0.0)
    fit = fit_norm(x, y)
    np.testing.assert_allclose(fit.beta, ols.params, rtol=1e-10)
    assert fit.ssr == pytest.approx(ols.ssr, rel=1e-10)
    assert fit.df == ols.df_resid
    np.testing.assert_allclose(np.sqrt(fit.ssr / fit.df * np.diag(fit.xtx_inv)), ols.bse,
                               rtol=1e-10)
    monkeypatch.undo()  # mice's small ridge moves the estimates by ~1e-5 only
    np.testing.assert_allclose(fit_norm(x, y).beta, ols.params, rtol=1e-3)


def test_posterior_draws_have_the_bayesian_regression_moments():
    x, y = _regression_data()
    fit = fit_norm(x, y)
    rng = np.random.default_rng(11)
    point = np.array([[1.0, 0.0, 0.0, 40.0]])
    draws = np.array([draw_norm(fit, point, rng)[0] for _ in range(20_000)])
    # y* = x beta* + sigma* e: mean x beta_hat, variance E[sigma^2] (1 + x V x'), where
    # sigma^2 ~ SSR / chi2(df) has mean SSR / (df - 2)
    sigma2 = fit.ssr / (fit.df - 2)
    variance = sigma2 * (1 + (point @ fit.xtx_inv @ point.T)[0, 0])
    assert draws.mean() == pytest.approx((point @ fit.beta)[0], abs=5 * np.sqrt(variance / 2e4))
    assert draws.var() == pytest.approx(variance, rel=0.05)


def test_too_few_observed_values_is_a_named_error():
    x, y = _regression_data(n=5)
    with pytest.raises(imputation.ImputationError, match="followup_pih_overall"):
        fit_norm(x, y, name="followup_pih_overall")


# --- multiple imputation of the demo cohort -------------------------------------------------


def test_imputes_the_lost_and_keeps_what_was_observed(patients, mi):
    assert mi.m == 20
    assert mi.counts["lost"] == 35 and mi.counts["completers"] == 85
    data = mi.completed.data
    for i in range(mi.m):
        scores = mi.completed.scores[i]
        np.testing.assert_array_equal(scores[~data.missing], data.scores[~data.missing])
        assert np.isfinite(scores).all()
    # every follow-up score of every lost patient was imputed
    followup = [j for j, name in enumerate(SCORE_COLUMNS) if name.startswith("followup_")]
    assert data.missing[np.ix_(data.lost, followup)].all()
    # PIH overall is the item-weighted mean of the imputed domains (passive imputation)
    scores = pd.DataFrame(mi.completed.scores[0], columns=SCORE_COLUMNS)
    weighted = (2 * scores["followup_pih_knowledge"] + 3 * scores["followup_pih_side_effects"]
                + 3 * scores["followup_pih_symptoms"] + 4 * scores["followup_pih_adherence"]) / 12
    np.testing.assert_allclose(scores["followup_pih_overall"][data.lost], weighted[data.lost])


def test_completed_frames_equal_the_model_frame_built_from_scratch(mi):
    completed = mi.completed.patients(3)
    expected = model_frame(long_cohort(completed), completed)
    pd.testing.assert_frame_equal(mi.completed.frame(3), expected)


def test_pooled_model_is_rubin_over_the_imputed_fits(mi):
    fits = [mi.completed.fit(i, "pih_adherence", "paper") for i in range(mi.m)]
    coefs = [next(t for t in f["terms"] if t["term"] == "partnership") for f in fits]
    pooled = mi.model("pih_adherence").term("partnership")
    assert pooled.estimate == pytest.approx(np.mean([c["coef"] for c in coefs]))
    assert pooled.between == pytest.approx(np.var([c["coef"] for c in coefs], ddof=1))
    assert pooled.within == pytest.approx(np.mean([c["se"] ** 2 for c in coefs]))
    assert fits[0]["n_obs"] == 2 * 120  # every row of every imputed patient
    assert 0 < pooled.fmi < 1


def test_same_seed_same_result_other_seed_other(patients, mi):
    again = multiple_imputation(patients, m=20, outcomes=["pih_adherence"],
                                variants=["paper"])
    pd.testing.assert_frame_equal(again.to_frame(), mi.to_frame())
    other = multiple_imputation(patients, m=3, seed=1, outcomes=["pih_adherence"],
                                variants=["paper"])
    assert not np.array_equal(other.completed.scores[0], mi.completed.scores[0])


def test_no_one_lost_is_a_note(patients):
    result = multiple_imputation(patients.loc[patients["has_followup"]], m=5)
    assert not result.ok and result.models == []
    assert "No patient lost" in result.notes[0]
    assert result.to_frame().empty
    assert tipping_point(result, "pih_overall").tipping_delta is None


def test_failing_imputation_model_is_a_note(patients):
    # 3 completers for ~30 predictors: the follow-up models cannot be fitted
    lost = patients.loc[patients["followup_status"] == "lost"]
    few = pd.concat([patients.loc[patients["has_followup"]].head(3), lost])
    result = multiple_imputation(few, m=5)
    assert not result.ok
    assert "Multiple imputation failed" in result.notes[0]
    assert "observed values for" in result.notes[0]


def test_tipping_point_brackets_the_crossing(mi):
    tip = tipping_point(mi, "pih_adherence", step=10, limit=-80, tolerance=1.0)
    assert tip.tipping_delta is not None and tip.tipping_delta < 0
    rows = {row["delta"]: row for row in tip.grid}
    at = rows[tip.tipping_delta]
    assert at["ci_low"] <= 0 <= at["ci_high"]
    # just before the tipping delta the CI excludes 0
    before = min((d for d in rows if d > tip.tipping_delta), default=None)
    assert before is not None and before - tip.tipping_delta <= 1.0
    assert rows[before]["ci_low"] > 0
    # no shift reproduces the pooled MI result; worse follow-up lowers the coefficient
    assert rows[0.0]["estimate"] == pytest.approx(
        mi.model("pih_adherence").term("partnership").estimate)
    assert at["estimate"] < rows[0.0]["estimate"]
