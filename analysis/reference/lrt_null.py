"""Simulated null distribution of the variance-component LRT (chi-bar-square p-values).

    .venv/bin/python -m analysis.reference.lrt_null     (~2 minutes; from the project root)

For each level, REPLICATES cohorts simulated with that level's variance 0 (the other
positive), each tested with `variance_component_tests` (ML, as the dashboard fits).
Writes analysis/tests/data/lrt_null.json: per level the seeds, statistics, p-values and the
size (share of p < 0.05), read by test_multilevel_components.py, which re-computes a few
replicates from their seeds.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from analysis.multilevel.components import variance_component_tests
from analysis.tests.fit_synthetic import simulate_cohort, with_dummies

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "lrt_null.json"
REPLICATES = 500
# every covariate simulate_cohort's outcome depends on, so that no omitted patient-level
# term acts as a patient variance under the null
FORMULA = ("pih_overall ~ partnership + followup + age + female + gender_other"
           " + education_below_a_level + education_a_level_or_above + pain_years"
           " + pain_sites + bpi_interference")
LEVELS = ["clinic", "patient"]
PATIENTS, CLINICS = 150, 8
NULLS = {"patient": {"sd_clinic": 4.0, "sd_patient": 0.0},
         "clinic": {"sd_clinic": 0.0, "sd_patient": 8.0}}


def cohort(level: str, seed: int):
    return with_dummies(simulate_cohort(PATIENTS, CLINICS, seed=seed, **NULLS[level]))


def replicate(level: str, seed: int) -> tuple[float, float]:
    test = variance_component_tests(cohort(level, seed), FORMULA, LEVELS).tests[level]
    return test.statistic, test.p


def main() -> None:
    out = {"formula": FORMULA, "levels": LEVELS, "patients": PATIENTS, "clinics": CLINICS,
           "replicates": REPLICATES, "nulls": NULLS, "results": {}}
    for n, level in enumerate(NULLS):
        seeds = [10_000 * (n + 1) + i for i in range(REPLICATES)]
        stats, ps = zip(*(replicate(level, seed) for seed in seeds), strict=True)
        out["results"][level] = {
            "seeds": seeds, "statistics": list(stats), "p": list(ps),
            "size": float(np.mean(np.array(ps) < 0.05)),
            "share_at_zero": float(np.mean(np.array(stats) == 0.0))}
    OUT.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
