"""Variance components: LRTs on the boundary, profile-likelihood CIs, AIC and BIC.

Checked against a dense-V likelihood written here (its own GLS and determinants, scipy
optimisers and brute-force grids), an identity of the chi-bar-square p-value, and a stored
simulation of the LRT's null distribution (analysis/reference/lrt_null.py), of which a few
replicates are recomputed to show the stored data came from this method.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize, minimize_scalar
from scipy.stats import chi2, norm

from analysis.multilevel.components import (
    CRITICAL,
    boundary_p,
    profile_intervals,
    variance_component_tests,
)
from analysis.reference import lrt_null
from analysis.tests.fit_synthetic import simulate_cohort, with_dummies

DATA = Path(__file__).resolve().parent / "data"
FORMULA = "pih_overall ~ partnership + followup"
LEVELS = ["clinic", "patient"]


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return with_dummies(simulate_cohort(40, 4, seed=3, sd_clinic=5.0))


def _dense(frame: pd.DataFrame, levels: list[str]):
    y = frame["pih_overall"].to_numpy()
    X = np.column_stack([np.ones(len(y)), frame["partnership"], frame["followup"]])
    keys = [frame[levels[0]].astype(str)]
    if len(levels) == 2:
        keys.append(keys[0] + "/" + frame[levels[1]].astype(str))
    G = [(k.to_numpy()[:, None] == k.to_numpy()[None, :]).astype(float) for k in keys]
    return y, X, [*G, np.eye(len(y))]


def _ml_deviance(y, X, G, v) -> float:
    V = sum(vi * g for vi, g in zip(v, G, strict=True))
    Vinv = np.linalg.inv(V)
    beta = np.linalg.solve(X.T @ Vinv @ X, X.T @ Vinv @ y)
    r = y - X @ beta
    return len(y) * np.log(2 * np.pi) + np.linalg.slogdet(V)[1] + r @ Vinv @ r


def _dense_ml(y, X, G) -> float:
    """Minimum ML deviance over the variances (>= 0), several starts."""
    def f(x):
        return _ml_deviance(y, X, G, np.append(x[:-1] ** 2, np.exp(x[-1])))
    starts = [np.append(np.full(len(G) - 1, s), np.log(np.var(y) / 2)) for s in (0.1, 2, 6)]
    return min(minimize(f, s, method="Nelder-Mead",
                        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000}).fun
               for s in starts)


def test_lrt_equals_dense_ml_fits_with_and_without_each_level(cohort):
    result = variance_component_tests(cohort, FORMULA, LEVELS)
    y, X, G = _dense(cohort, LEVELS)
    full = _dense_ml(y, X, G)
    assert -2 * result.fit.loglik == pytest.approx(full, abs=1e-5)
    without = {"clinic": _dense_ml(y, X, [G[1], G[2]]), "patient": _dense_ml(y, X, [G[0], G[2]])}
    for level, dev in without.items():
        test = result.tests[level]
        assert test.statistic == pytest.approx(max(dev - full, 0.0), abs=1e-4), level
        assert test.p == pytest.approx(0.5 * chi2.sf(dev - full, 1), rel=1e-3), level
        assert test.aic_without == pytest.approx(dev + 2 * (3 + 1 + 1), abs=1e-4)
        assert test.bic_without == pytest.approx(dev + 5 * np.log(len(y)), abs=1e-4)
    # AIC and BIC of the full model count 3 fixed effects and 3 variances
    assert result.aic == pytest.approx(full + 2 * 6, abs=1e-5)
    assert result.bic == pytest.approx(full + 6 * np.log(len(y)), abs=1e-5)


def test_boundary_p_is_the_one_sided_normal_tail():
    # 0.5 P(chi2_1 > t) = P(Z > sqrt t): the 50:50 mixture is the one-sided test
    for t in (0.01, 1.0, 2.706, 3.84, 10.0):
        assert boundary_p(t) == pytest.approx(norm.sf(np.sqrt(t)), rel=1e-10)
    assert boundary_p(0.0) == 1.0
    assert boundary_p(2.705543) == pytest.approx(0.05, rel=1e-5)


def test_a_level_estimated_at_zero_has_statistic_zero_and_p_one():
    frame = with_dummies(simulate_cohort(60, 4, seed=1, sd_clinic=0.0))
    result = variance_component_tests(frame, FORMULA, LEVELS)
    if result.fit.variances["clinic"] == 0.0:
        assert result.tests["clinic"].statistic == 0.0 and result.tests["clinic"].p == 1.0
    else:
        assert result.tests["clinic"].p < 1.0


def test_profile_of_a_one_level_variance_matches_a_brute_force_grid():
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"patient": np.repeat(np.arange(15), 3),
                          "partnership": rng.normal(35, 8, 45),
                          "followup": np.tile([0.0, 1.0, 1.0], 15)})
    frame["pih_overall"] = (0.5 * frame["partnership"] + rng.normal(0, 3, 15)[frame["patient"]]
                            + rng.normal(0, 2, 45))
    intervals = profile_intervals(frame, FORMULA, ["patient"])
    y, X, G = _dense(frame, ["patient"])

    def profile(value):  # minimise over the residual variance: grid, then refine
        grid = np.exp(np.linspace(np.log(0.2), np.log(40), 200))
        devs = [_ml_deviance(y, X, G, [value, e]) for e in grid]
        j = int(np.argmin(devs))
        res = minimize_scalar(lambda e: _ml_deviance(y, X, G, [value, e]),
                              bounds=(grid[max(j - 1, 0)], grid[min(j + 1, 199)]),
                              method="bounded", options={"xatol": 1e-10})
        return res.fun

    estimate = intervals["variance:patient"]
    dev_min = profile(estimate.estimate)
    assert estimate.low > 0
    for bound in (estimate.low, estimate.high):
        assert profile(bound) - dev_min == pytest.approx(CRITICAL, abs=2e-3)
    # the ICC of one level is g / (1 + g): its interval maps from the variance ratio's
    icc = intervals["icc:patient"]
    assert 0 < icc.low < icc.estimate < icc.high < 1


def test_profile_of_the_clinic_icc_matches_a_brute_force_search(cohort):
    intervals = profile_intervals(cohort, FORMULA, LEVELS)
    y, X, G = _dense(cohort, LEVELS)

    def profile(rho):  # over the patient share s and the total variance
        def over_s(s):
            total = minimize_scalar(
                lambda lt: _ml_deviance(y, X, G, np.exp(lt) * np.array(
                    [rho, (1 - rho) * s, (1 - rho) * (1 - s)])),
                bounds=(np.log(1), np.log(1e4)), method="bounded", options={"xatol": 1e-9})
            return total.fun
        grid = np.linspace(0.0, 0.99, 12)
        devs = [over_s(s) for s in grid]
        j = int(np.argmin(devs))
        res = minimize_scalar(over_s, bounds=(grid[max(j - 1, 0)], grid[min(j + 1, 11)]),
                              method="bounded", options={"xatol": 1e-8})
        return min(res.fun, devs[j])

    icc = intervals["icc:clinic"]
    dev_min = -2 * variance_component_tests(cohort, FORMULA, LEVELS).fit.loglik
    assert icc.low < icc.estimate < icc.high
    for bound in (icc.low, icc.high):
        if 0 < bound < 1:
            assert profile(bound) - dev_min == pytest.approx(CRITICAL, abs=5e-3)
    for name in ("variance:clinic", "variance:patient", "variance:residual", "icc:patient"):
        assert intervals[name].low <= intervals[name].estimate <= intervals[name].high, name


# --- the null distribution ----------------------------------------------------------


@pytest.fixture(scope="module")
def null() -> dict:
    return json.loads((DATA / "lrt_null.json").read_text())


def test_stored_null_simulation_has_size_near_five_percent(null):
    patient = null["results"]["patient"]
    assert len(patient["p"]) == null["replicates"] >= 500
    assert 0.03 <= patient["size"] <= 0.07
    assert patient["size"] == pytest.approx(np.mean(np.array(patient["p"]) < 0.05))
    # under the null about half the estimates sit on the boundary
    assert 0.3 <= patient["share_at_zero"] <= 0.7


def test_stored_replicates_come_from_this_method(null):
    for level in ("patient", "clinic"):
        stored = null["results"][level]
        for i in (0, 7, 123):
            statistic, p = lrt_null.replicate(level, stored["seeds"][i])
            assert statistic == pytest.approx(stored["statistics"][i], abs=1e-6)
            assert p == pytest.approx(stored["p"][i], abs=1e-6)
