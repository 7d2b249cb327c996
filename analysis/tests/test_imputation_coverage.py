"""The MI coverage study (analysis/reference/make_mi_coverage.py, stored in
analysis/tests/data/mi_coverage.json): 200 cohorts with 30 % MAR dropout.

The study is too slow for the suite (~4 minutes), so the suite checks what it stored and
re-runs stored replicates, which must reproduce exactly: the stored figures are what this
code computes, not numbers typed in.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.reference import make_mi_coverage as study

STORED = json.loads((Path(__file__).parent / "data" / "mi_coverage.json").read_text())


def test_mi_coverage_within_92_to_98_percent():
    mi = STORED["summary"]["mi"]
    assert len(STORED["replicates"]) >= 200
    assert 0.92 <= mi["coverage"] <= 0.98
    # MI's bias is within 3 Monte Carlo SEs of 0
    assert abs(mi["bias"]) < 3 * mi["bias_mc_se"]


def test_complete_case_is_biased_under_mar_dropout():
    cc, mi = STORED["summary"]["complete_case"], STORED["summary"]["mi"]
    assert abs(cc["bias"]) > 4 * cc["bias_mc_se"]  # the reason to impute
    assert abs(mi["bias"]) < abs(cc["bias"])
    assert cc["coverage"] < mi["coverage"]


def test_summary_recomputes_from_the_stored_replicates():
    replicates = STORED["replicates"]
    true = STORED["settings"]["true_coefficient"]
    assert true == pytest.approx(study.TRUE_COEFFICIENT)
    for method in ("full", "complete_case", "mi"):
        covered = [r[method]["ci_low"] <= true <= r[method]["ci_high"] for r in replicates]
        estimates = [r[method]["estimate"] for r in replicates]
        assert STORED["summary"][method]["coverage"] == pytest.approx(np.mean(covered))
        assert STORED["summary"][method]["bias"] == pytest.approx(np.mean(estimates) - true)
    # the dropout is ~30 % of the 120 patients in every cohort
    lost = np.array([r["lost"] for r in replicates])
    assert 0.25 < lost.mean() / STORED["settings"]["patients"] < 0.35


@pytest.mark.parametrize("index", [0, 117])
def test_stored_replicates_reproduce_exactly(index):
    stored = STORED["replicates"][index]
    again = study.replicate(index)
    assert again["seed"] == stored["seed"] and again["lost"] == stored["lost"]
    for method in ("full", "complete_case", "mi"):
        for key, value in stored[method].items():
            assert again[method][key] == pytest.approx(value, rel=1e-9, abs=1e-12), \
                (method, key)
