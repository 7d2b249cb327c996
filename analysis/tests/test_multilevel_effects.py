"""Issue 19 item 4: predicted random effects (BLUPs), fitted values and residuals.

Checked against statsmodels' MixedLM(...).fit().random_effects on the same data and fit
(our formula evaluated at statsmodels' own estimates), against a dense computation of
G Z' V^-1 (y - X b) written here, and on our own fit against statsmodels' fit (whose
estimates differ from ours only by its optimiser's tolerance).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import patsy
import pytest

from analysis.multilevel import fit_nested
from analysis.multilevel.design import build_design
from analysis.multilevel.effects import effects_at, group_effects, predicted_effects

FORMULA = "y ~ x"
LEVELS = ["clinic", "patient"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """5 clinics x 12 patients with 1-3 rows each; patient labels repeat across clinics."""
    rng = np.random.default_rng(5)
    rows = []
    for c in range(5):
        clinic_effect = rng.normal(0, 2)
        for p in range(12):
            patient_effect = rng.normal(0, 3)
            for _ in range(int(rng.integers(1, 4))):
                x = rng.normal()
                rows.append({"clinic": f"K{c}", "patient": f"P{p}", "x": x,
                             "y": 1 + 2 * x + clinic_effect + patient_effect + rng.normal()})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def statsmodels_fit(data):
    import statsmodels.formula.api as smf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return smf.mixedlm(FORMULA, data, groups="clinic", re_formula="1",
                           vc_formula={"patient": "0 + C(patient)"}).fit(reml=False)


def _theirs(fit) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    clinics, patients = {}, {}
    for clinic, series in fit.random_effects.items():
        clinics[clinic] = float(series.iloc[0])  # "Group": the clinic intercept
        for name, value in series.iloc[1:].items():
            patients[(clinic, name.split("[")[-1].rstrip("]"))] = float(value)
    return clinics, patients


def test_blups_at_statsmodels_estimates_equal_its_random_effects(data, statsmodels_fit):
    fit = statsmodels_fit
    design = build_design(data, FORMULA, LEVELS, patsy.EvalEnvironment.capture(0))
    ours = effects_at(design.frame, design.y, design.X, LEVELS, fit.fe_params.to_numpy(),
                      {"clinic": float(fit.cov_re.iloc[0, 0]), "patient": float(fit.vcomp[0]),
                       "residual": float(fit.scale)})
    clinics, patients = _theirs(fit)
    assert len(patients) == 60
    for clinic, value in clinics.items():
        assert ours.levels["clinic"][clinic] == pytest.approx(value, rel=1e-9, abs=1e-12)
    for key, value in patients.items():
        assert ours.levels["patient"][key] == pytest.approx(value, rel=1e-9, abs=1e-12)


def test_blups_of_our_fit_agree_with_statsmodels_fit(data, statsmodels_fit):
    ours = predicted_effects(data, fit_nested(data, FORMULA, LEVELS))
    clinics, patients = _theirs(statsmodels_fit)
    for clinic, value in clinics.items():
        assert ours.levels["clinic"][clinic] == pytest.approx(value, rel=1e-3, abs=1e-3)
    for key, value in patients.items():
        assert ours.levels["patient"][key] == pytest.approx(value, rel=1e-3, abs=1e-3)


def test_group_formula_equals_dense_g_z_vinv_r():
    rng = np.random.default_rng(3)
    inner = np.array([0, 0, 1, 2, 2, 2, 3, 4, 4])
    outer_of_inner = np.array([0, 0, 1, 1, 1])
    r = rng.normal(size=len(inner))
    s_p, s_c, sigma2 = 2.5, 1.5, 0.8
    outer = outer_of_inner[inner]
    z_p = (inner[:, None] == np.arange(5)).astype(float)
    z_c = (outer[:, None] == np.arange(2)).astype(float)
    v = sigma2 * np.eye(len(r)) + s_p * z_p @ z_p.T + s_c * z_c @ z_c.T
    vinv_r = np.linalg.solve(v, r)
    patients, clinics = group_effects(r, inner, outer_of_inner, s_p, s_c, sigma2)
    np.testing.assert_allclose(patients, s_p * z_p.T @ vinv_r, rtol=1e-12)
    np.testing.assert_allclose(clinics, s_c * z_c.T @ vinv_r, rtol=1e-12)


def test_fitted_plus_residual_is_the_outcome_and_residuals_centre_on_zero(data):
    fit = fit_nested(data, FORMULA, LEVELS)
    effects = predicted_effects(data, fit)
    np.testing.assert_allclose(effects.fitted + effects.residuals, data["y"].to_numpy())
    expected = (effects.marginal_fitted
                + effects.levels["clinic"].reindex(data["clinic"]).to_numpy()
                + effects.levels["patient"].reindex(
                    pd.MultiIndex.from_frame(data[LEVELS])).to_numpy())
    np.testing.assert_allclose(effects.fitted, expected)
    assert abs(effects.residuals.mean()) < 0.1


def test_a_variance_at_zero_gives_zero_effects():
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"clinic": np.repeat(["A", "B", "C"], 20),
                          "patient": np.tile(np.repeat(np.arange(10), 2), 3),
                          "x": rng.normal(size=60)})
    frame["y"] = frame["x"] + rng.normal(size=60)  # no clinic or patient variation
    fit = fit_nested(frame, FORMULA, LEVELS)
    effects = predicted_effects(frame, fit)
    for level in LEVELS:
        if fit.variances[level] == 0.0:
            assert (effects.levels[level] == 0).all()
    assert fit.variances["clinic"] == 0.0
