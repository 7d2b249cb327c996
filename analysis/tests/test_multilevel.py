"""analysis.multilevel.fit_nested against lme4's published Pastes fits, statsmodels'
MixedLM, and dense-matrix computations of the same quantities."""
from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.multilevel import FitError, NestedFit, fit_nested
from analysis.tests.fit_synthetic import STUDY_FORMULA, simulate_cohort

DATA = Path(__file__).resolve().parent / "data"
LEVELS = ["clinic", "patient"]
SMALL_FORMULA = "pih_overall ~ partnership + age + C(gender, Treatment('male'))"
# lme4 names the inner variance of the Pastes fit by its interaction term
PASTES_NAMES = {"batch": "batch", "cask": "cask_in_batch", "residual": "residual"}


@pytest.fixture(scope="module")
def pastes() -> pd.DataFrame:
    return pd.read_csv(DATA / "pastes.csv")


@pytest.fixture(scope="module")
def lme4() -> dict:
    return json.loads((DATA / "pastes.expected.json").read_text())["fits"]


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return simulate_cohort(240, 12, seed=11)


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return simulate_cohort(45, 5, seed=5)


@pytest.fixture(scope="module")
def unbalanced() -> pd.DataFrame:
    """1 to 6 measurements per patient, so that several group sizes are pooled."""
    rng = np.random.default_rng(21)
    sizes = rng.integers(1, 7, 40)
    clinic = np.repeat(rng.integers(0, 5, 40), sizes)
    patient = np.repeat(np.arange(40), sizes)
    n = len(patient)
    # labels restart in every clinic, as the nesting allows
    label = pd.Series(patient).groupby(clinic).rank(method="dense").astype(int).to_numpy()
    return pd.DataFrame({
        "clinic": clinic, "patient": label,
        "partnership": rng.normal(35, 8, n), "age": np.repeat(rng.integers(18, 90, 40), sizes),
        "gender": np.repeat(rng.choice(["male", "female"], 40), sizes),
        "pih_overall": (rng.normal(0, 2, 5)[clinic] + rng.normal(0, 4, 40)[patient]
                        + 0.3 * rng.normal(35, 8, n) + rng.normal(0, 3, n)),
    })


def _dense_v(frame: pd.DataFrame, fit: NestedFit) -> np.ndarray:
    """V = sigma_c^2 Zc Zc' + sigma_p^2 Zp Zp' + sigma_e^2 I, built explicitly."""
    same_clinic = frame["clinic"].to_numpy()[:, None] == frame["clinic"].to_numpy()[None, :]
    same_patient = same_clinic & (
        frame["patient"].to_numpy()[:, None] == frame["patient"].to_numpy()[None, :]
    )
    v = fit.variances
    return (v["clinic"] * same_clinic + v["patient"] * same_patient
            + v["residual"] * np.eye(len(frame)))


def _dense_design(frame: pd.DataFrame, fit: NestedFit) -> tuple[np.ndarray, np.ndarray]:
    import patsy

    y, X = patsy.dmatrices(fit.formula, frame, return_type="dataframe")
    assert list(X.columns) == list(fit.fixed.index)
    return y.to_numpy()[:, 0], X.to_numpy()


def _dense_loglik(y: np.ndarray, X: np.ndarray, V: np.ndarray, beta: np.ndarray,
                  reml: bool) -> float:
    """Gaussian (restricted) log-likelihood computed with dense matrices."""
    n, p = X.shape
    Vinv = np.linalg.inv(V)
    r = y - X @ beta
    ll = -0.5 * (n * np.log(2 * np.pi) + np.linalg.slogdet(V)[1] + r @ Vinv @ r)
    if reml:
        ll += 0.5 * p * np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(X.T @ Vinv @ X)[1]
    return float(ll)


@pytest.mark.parametrize("method", ["ML", "REML"])
def test_pastes_reproduces_lme4(pastes, lme4, method):
    expected = lme4[method]
    fit = fit_nested(pastes, "strength ~ 1", ["batch", "cask"], reml=method == "REML")
    assert fit.converged and fit.method == method and fit.warnings == []
    assert fit.n_obs == 60 and fit.n_groups == {"batch": 10, "cask": 30}
    fixed = expected["fixed"]["Intercept"]
    np.testing.assert_allclose(fit.fixed.loc["Intercept", "coef"], fixed["estimate"], rtol=1e-4)
    np.testing.assert_allclose(fit.fixed.loc["Intercept", "se"], fixed["se"], rtol=1e-4)
    for ours, theirs in PASTES_NAMES.items():
        np.testing.assert_allclose(fit.variances[ours], expected["variances"][theirs],
                                   rtol=1e-4)
    np.testing.assert_allclose(fit.loglik, expected["loglik"], rtol=1e-6)


def test_pastes_ml_information_criteria(pastes, lme4):
    fit = fit_nested(pastes, "strength ~ 1", ["batch", "cask"])
    np.testing.assert_allclose(fit.aic, lme4["ML"]["aic"], rtol=1e-6)
    np.testing.assert_allclose(fit.bic, lme4["ML"]["bic"], rtol=1e-6)


@pytest.mark.parametrize("reml", [False, True])
def test_matches_statsmodels_mixedlm(cohort, reml):
    ours = fit_nested(cohort, STUDY_FORMULA, LEVELS, reml=reml)
    theirs = smf.mixedlm(STUDY_FORMULA, cohort, groups="clinic", re_formula="1",
                         vc_formula={"patient": "0 + C(patient)"}).fit(reml=reml)
    assert ours.converged and theirs.converged
    np.testing.assert_allclose(ours.fixed["coef"], theirs.fe_params[ours.fixed.index],
                               rtol=1e-3)
    np.testing.assert_allclose(
        [ours.variances["clinic"], ours.variances["patient"], ours.variances["residual"]],
        [theirs.cov_re.iloc[0, 0], theirs.vcomp[0], theirs.scale], rtol=1e-3)
    # both maximise the same likelihood; ours may only be higher, by a rounding margin
    assert ours.loglik >= theirs.llf - 1e-6


def test_single_level_matches_statsmodels(cohort):
    ours = fit_nested(cohort, SMALL_FORMULA, ["clinic"])
    theirs = smf.mixedlm(SMALL_FORMULA, cohort, groups="clinic").fit(reml=False)
    np.testing.assert_allclose(ours.fixed["coef"], theirs.fe_params[ours.fixed.index],
                               rtol=1e-3)
    np.testing.assert_allclose([ours.variances["clinic"], ours.variances["residual"]],
                               [theirs.cov_re.iloc[0, 0], theirs.scale], rtol=1e-3)
    assert set(ours.variances) == {"clinic", "residual"}


@pytest.mark.parametrize("dataset", ["small", "unbalanced"])
@pytest.mark.parametrize("reml", [False, True])
def test_standard_errors_are_dense_gls_covariance(request, dataset, reml):
    data = request.getfixturevalue(dataset)
    fit = fit_nested(data, SMALL_FORMULA, LEVELS, reml=reml)
    y, X = _dense_design(data, fit)
    V = _dense_v(data, fit)
    cov = np.linalg.inv(X.T @ np.linalg.solve(V, X))
    np.testing.assert_allclose(fit.cov_fixed.to_numpy(), cov, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(fit.fixed["se"], np.sqrt(np.diag(cov)), rtol=1e-7)
    beta = cov @ X.T @ np.linalg.solve(V, y)
    np.testing.assert_allclose(fit.fixed["coef"], beta, rtol=1e-7)


@pytest.mark.parametrize("dataset", ["small", "unbalanced"])
@pytest.mark.parametrize("reml", [False, True])
def test_loglik_is_the_dense_gaussian_loglik(request, dataset, reml):
    data = request.getfixturevalue(dataset)
    fit = fit_nested(data, SMALL_FORMULA, LEVELS, reml=reml)
    y, X = _dense_design(data, fit)
    dense = _dense_loglik(y, X, _dense_v(data, fit), fit.fixed["coef"].to_numpy(), reml)
    np.testing.assert_allclose(fit.loglik, dense, rtol=1e-9)


@pytest.fixture(scope="module")
def small_ml(small) -> tuple[NestedFit, np.ndarray, np.ndarray]:
    fit = fit_nested(small, SMALL_FORMULA, LEVELS)
    return (fit, *_dense_design(small, fit))


@settings(max_examples=25, deadline=None)
@given(factors=st.tuples(*[st.floats(0.5, 2.0)] * 3), shift=st.floats(-0.5, 0.5))
def test_no_nearby_parameters_have_a_higher_likelihood(small, small_ml, factors, shift):
    fit, y, X = small_ml
    best = _dense_loglik(y, X, _dense_v(small, fit), fit.fixed["coef"].to_numpy(), False)
    scaled = dict(zip(["clinic", "patient", "residual"], factors, strict=True))
    other = NestedFit(**{**fit.__dict__, "variances": {
        k: v * scaled[k] for k, v in fit.variances.items()}})
    beta = fit.fixed["coef"].to_numpy() + shift * fit.fixed["se"].to_numpy()
    assert _dense_loglik(y, X, _dense_v(small, other), beta, False) <= best + 1e-9


def test_inner_labels_need_only_be_unique_within_outer(cohort):
    relabelled = cohort.assign(patient=cohort["clinic"] + "/" + cohort["patient"])
    shuffled = relabelled.sample(frac=1.0, random_state=3)
    a = fit_nested(cohort, SMALL_FORMULA, LEVELS)
    b = fit_nested(shuffled, SMALL_FORMULA, LEVELS)
    assert a.n_groups == b.n_groups == {"clinic": 12, "patient": 240}
    pd.testing.assert_frame_equal(a.fixed, b.fixed, rtol=1e-7)
    np.testing.assert_allclose(list(a.variances.values()), list(b.variances.values()),
                               rtol=1e-7)


def test_boundary_variance_is_zero_with_a_warning():
    data = simulate_cohort(60, 3, seed=4, sd_clinic=0.0)
    # equal clinic means leave nothing for a clinic variance: the ML estimate is 0
    clinic_mean = data.groupby("clinic")["pih_overall"].transform("mean")
    data["pih_overall"] += data["pih_overall"].mean() - clinic_mean
    fit = fit_nested(data, SMALL_FORMULA, LEVELS)
    assert fit.converged
    assert fit.variances["clinic"] == 0.0
    assert all(v >= 0 for v in fit.variances.values())
    assert any("clinic variance" in w and "boundary" in w for w in fit.warnings)
    # patient labels restart in every clinic: make them unique to fit patients alone
    unique_patients = data.assign(patient=data["clinic"] + "/" + data["patient"])
    without = fit_nested(unique_patients, SMALL_FORMULA, ["patient"])
    np.testing.assert_allclose(fit.loglik, without.loglik, rtol=1e-9)
    np.testing.assert_allclose(fit.fixed["coef"], without.fixed["coef"], rtol=1e-6)


def test_single_clinic_is_fitted_without_the_clinic_level():
    data = simulate_cohort(50, 1, seed=6)
    fit = fit_nested(data, SMALL_FORMULA, LEVELS)
    assert fit.converged
    assert fit.n_groups == {"clinic": 1, "patient": 50}
    assert fit.variances["clinic"] == 0.0 and fit.dropped_levels == ["clinic"]
    assert fit.icc["clinic"] == 0.0
    assert any("only one clinic" in w for w in fit.warnings)
    patient_only = fit_nested(data, SMALL_FORMULA, ["patient"])
    np.testing.assert_allclose(fit.variances["patient"], patient_only.variances["patient"])
    np.testing.assert_allclose(fit.loglik, patient_only.loglik)


def test_one_observation_per_patient_drops_the_patient_level(cohort):
    baseline = cohort[cohort["timepoint"] == "baseline"]
    fit = fit_nested(baseline, SMALL_FORMULA, LEVELS)
    assert fit.dropped_levels == ["patient"] and fit.variances["patient"] == 0.0
    assert any("every patient has a single observation" in w for w in fit.warnings)
    clinic_only = fit_nested(baseline, SMALL_FORMULA, ["clinic"])
    np.testing.assert_allclose(fit.loglik, clinic_only.loglik)


def test_collinear_terms_raise_fit_error_naming_them(small):
    data = small.assign(partnership_x2=2 * small["partnership"] + 3)
    with pytest.raises(FitError, match="partnership, partnership_x2") as info:
        fit_nested(data, "pih_overall ~ age + partnership + partnership_x2", LEVELS)
    assert isinstance(info.value, ValueError)
    assert "age" not in str(info.value)


def test_constant_term_raises_fit_error(small):
    with pytest.raises(FitError, match="site_count does not vary"):
        fit_nested(small.assign(site_count=4.0), "pih_overall ~ age + site_count", LEVELS)


def test_bad_levels_raise_fit_error(small):
    with pytest.raises(FitError, match="not in the data"):
        fit_nested(small, SMALL_FORMULA, ["clinic", "ward"])
    with pytest.raises(FitError, match="one or two"):
        fit_nested(small.assign(ward="W"), SMALL_FORMULA, ["ward", "clinic", "patient"])


def test_non_convergence_is_reported(cohort):
    fit = fit_nested(cohort, STUDY_FORMULA, LEVELS, maxiter=1)
    assert fit.converged is False
    assert any("did not converge" in w for w in fit.warnings)


def test_rows_missing_a_used_variable_are_dropped(small):
    data = small.copy()
    data.loc[data.index[[0, 5]], "pih_overall"] = np.nan
    data.loc[data.index[7], "age"] = np.nan
    data.loc[data.index[9], "gender"] = None
    data.loc[data.index[11], "patient"] = None
    data.loc[data.index[13], "ethnicity"] = None  # not in the formula: row kept
    fit = fit_nested(data, SMALL_FORMULA, LEVELS)
    assert fit.n_obs == len(small) - 5
    complete = data.dropna(subset=["pih_overall", "age", "gender", "patient"])
    expected = fit_nested(complete.drop(columns="ethnicity"), SMALL_FORMULA, LEVELS)
    pd.testing.assert_frame_equal(fit.fixed, expected.fixed)


def test_icc_is_cumulative_as_in_stata(cohort):
    fit = fit_nested(cohort, SMALL_FORMULA, LEVELS)
    v = fit.variances
    total = v["clinic"] + v["patient"] + v["residual"]
    assert fit.icc["clinic"] == pytest.approx(v["clinic"] / total)
    assert fit.icc["patient"] == pytest.approx((v["clinic"] + v["patient"]) / total)


def test_ci_and_p_use_the_normal_approximation(cohort):
    fixed = fit_nested(cohort, SMALL_FORMULA, LEVELS).fixed
    from scipy.stats import norm

    z = fixed["coef"] / fixed["se"]
    np.testing.assert_allclose(fixed["p"], 2 * norm.sf(z.abs()))
    np.testing.assert_allclose(fixed["ci_high"] - fixed["coef"], norm.ppf(0.975) * fixed["se"])
    np.testing.assert_allclose(fixed["coef"] - fixed["ci_low"], norm.ppf(0.975) * fixed["se"])


def test_large_cohort_never_builds_dense_matrices():
    data = simulate_cohort(20_000, 300, seed=8)
    tracemalloc.start()
    fit = fit_nested(data, STUDY_FORMULA, LEVELS)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert fit.converged and fit.n_obs == len(data)
    # one dense n x n matrix would be 2.7 GB; the data themselves are ~10 MB
    assert peak < 150e6
