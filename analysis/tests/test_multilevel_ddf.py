"""fit_nested(..., ddf=...): Satterthwaite and Kenward-Roger degrees of freedom.

Checked against lmerTest and pbkrtest themselves (data/ddf/reference.json, written by
analysis/reference/make_ddf_reference.R) and against an independent dense computation
written here: the REML deviance and Phi(theta) = (X'V^-1X)^-1 with a dense V, their
derivatives over the variance parameters by finite differences (Satterthwaite), and the
Kenward-Roger adjustment from the full n x n P matrix.
"""
from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as student_t

from analysis.multilevel import fit_nested
from analysis.tests.fit_synthetic import simulate_cohort, with_dummies

DATA = Path(__file__).resolve().parent / "data"
REFERENCE = json.loads((DATA / "ddf" / "reference.json").read_text())
METHODS = {"satterthwaite": "satterthwaite", "kenward-roger": "kenward_roger"}
FORMULA = ("pih_overall ~ partnership + followup + age + female + pain_sites"
           " + bpi_severity")
LEVELS = ["clinic", "patient"]


def _r_term(term: str) -> str:
    return "(Intercept)" if term == "Intercept" else term


@pytest.fixture(scope="module")
def ours() -> dict:
    """Our fits of every reference model, both methods."""
    fits = {}
    for model in REFERENCE["models"]:
        data = pd.read_csv(DATA / model["data"])
        spec = json.loads((DATA / "ddf" / "manifest.json").read_text())
        levels = next(m["levels"] for m in spec["models"] if m["name"] == model["name"])
        formula = model["formula"].split(" + (1")[0]
        fits[model["name"]] = {method: fit_nested(data, formula, levels, reml=True, ddf=method)
                               for method in METHODS}
    return fits


@pytest.mark.parametrize("method", METHODS)
def test_interior_fits_match_lmertest_and_pbkrtest(ours, method):
    compared = 0
    for model in REFERENCE["models"]:
        if model["singular"]:
            continue
        fit = ours[model["name"]][method]
        assert fit.ddf_note is None, (model["name"], fit.ddf_note)
        for term, row in fit.fixed.iterrows():
            ref = model[METHODS[method]][_r_term(term)]
            where = (model["name"], term)
            assert row["coef"] == pytest.approx(ref["estimate"], rel=1e-6, abs=1e-8), where
            assert row["se"] == pytest.approx(ref["se"], rel=1e-5), where
            assert row["df"] == pytest.approx(ref["df"], rel=1e-4), where
            assert row["p"] == pytest.approx(ref["p"], rel=1e-4, abs=1e-12), where
            assert row["ci_low"] == pytest.approx(ref["ci_low"], rel=1e-5, abs=1e-7), where
            assert row["ci_high"] == pytest.approx(ref["ci_high"], rel=1e-5, abs=1e-7), where
            compared += 1
    # Pastes, sleepstudy and the simulated three-level cohorts
    assert compared >= 40


def test_reference_covers_the_briefed_data_sets():
    names = [model["name"] for model in REFERENCE["models"]]
    assert {"pastes", "sleepstudy"} <= set(names)
    assert sum(name.startswith("demo/") for name in names) == 15
    simulated = [m for m in REFERENCE["models"] if m["name"].startswith("simulated/")]
    assert len(simulated) >= 3 and all(m["variances"]["clinic"] > 0 for m in simulated)
    assert {"R", "lmerTest", "pbkrtest", "lme4"} <= set(REFERENCE["versions"])


def test_pastes_intercept_has_batches_minus_one_df(ours):
    # balanced nested design: the intercept's test is the between-batch one, 10 - 1 df
    for method in METHODS:
        assert ours["pastes"][method].fixed.loc["Intercept", "df"] == pytest.approx(9.0)


@pytest.mark.parametrize("method", METHODS)
def test_boundary_fits_keep_z_results_with_a_note(ours, method):
    """lme4 calls these demo fits singular (clinic variance 0): df NaN, z kept, a note."""
    singular = [m for m in REFERENCE["models"] if m["singular"]]
    assert singular
    for model in singular:
        fit = ours[model["name"]][method]
        assert fit.variances["clinic"] == 0.0
        assert "clinic variance is estimated at 0" in fit.ddf_note
        assert fit.ddf_note in fit.warnings
        assert fit.fixed["df"].isna().all()
        pd.testing.assert_frame_equal(fit.fixed.drop(columns="df"), fit.fixed_z)


# --- an independent dense computation ------------------------------------------------


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return with_dummies(simulate_cohort(90, 4, seed=7, sd_clinic=5.0))


def _dense(cohort: pd.DataFrame):
    """y, X and the G matrices (clinic, patient, residual) of the cohort, dense."""
    y = cohort["pih_overall"].to_numpy()
    names = FORMULA.split("~")[1].replace(" ", "").split("+")
    X = np.column_stack([np.ones(len(y))] + [cohort[n].to_numpy(float) for n in names])
    clinic = cohort["clinic"].to_numpy()
    patient = (cohort["clinic"] + "/" + cohort["patient"]).to_numpy()
    G = [(clinic[:, None] == clinic[None, :]).astype(float),
         (patient[:, None] == patient[None, :]).astype(float), np.eye(len(y))]
    return y, X, G


def _phi(X, G, theta):
    V = sum(t * g for t, g in zip(theta, G, strict=True))
    return np.linalg.inv(X.T @ np.linalg.solve(V, X))


def _reml_deviance(y, X, G, theta):
    V = sum(t * g for t, g in zip(theta, G, strict=True))
    Vinv = np.linalg.inv(V)
    xvx = X.T @ Vinv @ X
    beta = np.linalg.solve(xvx, X.T @ Vinv @ y)
    r = y - X @ beta
    return (np.linalg.slogdet(V)[1] + np.linalg.slogdet(xvx)[1] + r @ Vinv @ r
            + (len(y) - X.shape[1]) * np.log(2 * np.pi))


def _hessian(f, x, rel=1e-4):
    k = len(x)
    H = np.empty((k, k))
    h = rel * x
    def at(i, j, si, sj):
        z = x.copy()
        z[i] += si * h[i]
        z[j] += sj * h[j]
        return f(z)

    for i in range(k):
        for j in range(k):
            H[i, j] = (at(i, j, 1, 1) - at(i, j, 1, -1) - at(i, j, -1, 1)
                       + at(i, j, -1, -1)) / (4 * h[i] * h[j])
    return H


def _theta(fit):
    return np.array([fit.variances["clinic"], fit.variances["patient"],
                     fit.variances["residual"]])


def test_satterthwaite_equals_finite_differences_with_dense_v(cohort):
    fit = fit_nested(cohort, FORMULA, LEVELS, reml=True, ddf="satterthwaite")
    y, X, G = _dense(cohort)
    theta = _theta(fit)
    assert theta.min() > 0
    A = 2 * np.linalg.inv(_hessian(lambda t: _reml_deviance(y, X, G, t), theta))
    phi = _phi(X, G, theta)
    dphi = []
    for i in range(3):
        h = 1e-5 * theta[i]
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        dphi.append((_phi(X, G, up) - _phi(X, G, down)) / (2 * h))
    for j, term in enumerate(fit.fixed.index):
        grad = np.array([d[j, j] for d in dphi])
        df = 2 * phi[j, j] ** 2 / (grad @ A @ grad)
        row = fit.fixed.loc[term]
        assert row["df"] == pytest.approx(df, rel=1e-4), term
        assert row["se"] == pytest.approx(np.sqrt(phi[j, j]), rel=1e-6), term
        half = student_t.ppf(0.975, df) * np.sqrt(phi[j, j])
        assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * half, rel=1e-4), term
        assert row["p"] == pytest.approx(
            2 * student_t.sf(abs(row["coef"]) / np.sqrt(phi[j, j]), df), rel=1e-3), term


def test_kenward_roger_equals_a_dense_computation(cohort):
    """Kenward & Roger (1997) with the full P: Phi_A = Phi + 2 Phi U Phi, and for one
    coefficient the KR df reduce to 2 / (a'W a), a_i = [Phi M_i Phi]_jj / Phi_jj."""
    fit = fit_nested(cohort, FORMULA, LEVELS, reml=True, ddf="kenward-roger")
    y, X, G = _dense(cohort)
    theta = _theta(fit)
    V = sum(t * g for t, g in zip(theta, G, strict=True))
    Vinv = np.linalg.inv(V)
    phi = np.linalg.inv(X.T @ Vinv @ X)
    P = Vinv - Vinv @ X @ phi @ X.T @ Vinv
    info = np.array([[np.trace(P @ gi @ P @ gj) for gj in G] for gi in G])
    W = 2 * np.linalg.inv(info)
    Pi = [-X.T @ Vinv @ g @ Vinv @ X for g in G]
    U = sum(W[i, j] * (X.T @ Vinv @ G[i] @ Vinv @ G[j] @ Vinv @ X - Pi[i] @ phi @ Pi[j])
            for i in range(3) for j in range(3))
    phi_a = phi + 2 * phi @ U @ phi
    for j, term in enumerate(fit.fixed.index):
        a = np.array([(phi @ p @ phi)[j, j] / phi[j, j] for p in Pi])
        row = fit.fixed.loc[term]
        assert row["df"] == pytest.approx(2 / (a @ W @ a), rel=1e-6), term
        assert row["se"] == pytest.approx(np.sqrt(phi_a[j, j]), rel=1e-6), term
    np.testing.assert_allclose(fit.cov_fixed_adjusted.to_numpy(), phi_a, rtol=1e-6)


# --- the API ------------------------------------------------------------------------


def test_ddf_none_keeps_the_z_results(cohort):
    plain = fit_nested(cohort, FORMULA, LEVELS, reml=True)
    assert list(plain.fixed.columns) == ["coef", "se", "ci_low", "ci_high", "p"]
    assert plain.ddf is None and plain.fixed_z is None and plain.ddf_note is None
    satt = fit_nested(cohort, FORMULA, LEVELS, reml=True, ddf="satterthwaite")
    pd.testing.assert_frame_equal(satt.fixed_z, plain.fixed)
    # t-based intervals are wider than the z ones, and the estimates are the same
    assert (satt.fixed["ci_high"] - satt.fixed["ci_low"]
            > plain.fixed["ci_high"] - plain.fixed["ci_low"]).all()
    np.testing.assert_array_equal(satt.fixed["coef"], plain.fixed["coef"])


@pytest.mark.parametrize("kwargs, needle", [
    ({"reml": False, "ddf": "satterthwaite"}, "ddf='satterthwaite' needs reml=True"),
    ({"reml": True, "ddf": "KR"}, "ddf must be None, 'satterthwaite' or 'kenward-roger'"),
])
def test_bad_ddf_arguments_are_refused_with_the_argument_named(cohort, kwargs, needle):
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        fit_nested(cohort, FORMULA, LEVELS, **kwargs)


def test_one_level_and_no_level_models():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"g": np.repeat(np.arange(12), 4), "x": rng.normal(size=48)})
    frame["y"] = frame["x"] + rng.normal(size=12)[frame["g"]] + rng.normal(size=48)
    fit = fit_nested(frame, "y ~ x", ["g"], reml=True, ddf="kenward-roger")
    assert np.isfinite(fit.fixed["df"]).all()
    # every group its own row: no level is fitted, so the model is OLS with n - p df
    single = frame.assign(g=np.arange(48))
    ols = fit_nested(single, "y ~ x", ["g"], reml=True, ddf="satterthwaite")
    assert ols.dropped_levels == ["g"]
    np.testing.assert_allclose(ols.fixed["df"], 46.0, rtol=1e-8)


def test_memory_follows_the_largest_clinic_not_n():
    rows = with_dummies(simulate_cohort(2000, 20, seed=2, sd_clinic=4.0))
    tracemalloc.start()
    fit = fit_nested(rows, FORMULA, LEVELS, reml=True, ddf="kenward-roger")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert fit.n_obs > 3000 and np.isfinite(fit.fixed["df"]).all()
    # a dense n x n V alone would take n^2 * 8 bytes (> 70 MB here)
    assert peak < 0.25 * fit.n_obs**2 * 8
