"""fit_nested(start=): the optimiser begins at given variance ratios (multiple imputation's
refits) and ends at the same maximum as from its starting grid; a start that ends badly
falls back to the grid."""
from __future__ import annotations

import numpy as np
import pytest

from analysis.multilevel import fit_nested
from analysis.tests.fit_synthetic import STUDY_FORMULA, simulate_cohort

LEVELS = ["clinic", "patient"]


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(240, 12, seed=11)


def _ratios(fit) -> dict[str, float]:
    return {level: fit.variances[level] / fit.variances["residual"] for level in LEVELS}


def test_a_warm_start_ends_at_the_grids_maximum(cohort):
    cold = fit_nested(cohort, STUDY_FORMULA, LEVELS)
    nudged = {level: ratio * 1.3 for level, ratio in _ratios(cold).items()}
    warm = fit_nested(cohort, STUDY_FORMULA, LEVELS, start=nudged)
    assert warm.converged
    assert warm.loglik == pytest.approx(cold.loglik, abs=1e-8)
    np.testing.assert_allclose(warm.fixed["coef"], cold.fixed["coef"], rtol=1e-6)
    np.testing.assert_allclose(warm.fixed["se"], cold.fixed["se"], rtol=1e-6)


@pytest.mark.parametrize("start", [{"clinic": 0.0, "patient": 0.0},
                                   {"clinic": float("nan"), "patient": 1.0},
                                   {"patient": 50.0}])
def test_a_start_on_the_boundary_or_unusable_still_finds_the_maximum(cohort, start):
    cold = fit_nested(cohort, STUDY_FORMULA, LEVELS)
    assert min(_ratios(cold).values()) > 0  # the maximum is inside: a start at 0 must leave
    warm = fit_nested(cohort, STUDY_FORMULA, LEVELS, start=start)
    assert warm.converged
    assert warm.loglik == pytest.approx(cold.loglik, abs=1e-8)
    np.testing.assert_allclose(warm.fixed["coef"], cold.fixed["coef"], rtol=1e-6)
