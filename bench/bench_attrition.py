"""Benchmark the attrition analyses on the demo cohort (147 patients, 3 clinics).

Times multiple imputation with 20 imputations (chains and the refit of all 15 Table 2
models, pooled), the inverse-probability-weighted models, and one tipping-point search
(PIH overall, paper model), each the best and median of --repeat runs. The cohort is the
demo's (questionnaires.demo, seed 2018, end date 2026-11-28) built without the database.

    .venv/bin/python bench/bench_attrition.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


def _timed(function, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    _setup()
    from analysis.stats.attrition import ipw_models
    from analysis.stats.cohort import patients_wide
    from analysis.stats.imputation import multiple_imputation, tipping_point
    from analysis.tests.demo_frame import demo_cohort_frame

    cohort = demo_cohort_frame()
    patients = patients_wide(cohort)
    rows = [("MI, 20 imputations, 15 models", lambda: multiple_imputation(patients, m=20)),
            ("MI, 20 imputations, paper model of PIH overall only",
             lambda: multiple_imputation(patients, m=20, outcomes=["pih_overall"],
                                         variants=["paper"])),
            ("IPW, 15 models weighted + 15 unweighted", lambda: ipw_models(cohort, patients))]
    results = {}
    for label, function in rows:
        times, results[label] = _timed(function, args.repeat)
        print(f"{label:<55} best {min(times):6.2f} s  median {statistics.median(times):6.2f} s")
    mi = results[rows[1][0]]
    times, tip = _timed(lambda: tipping_point(mi, "pih_overall"), 1)
    print(f"{'tipping point, PIH overall (m = 20)':<55} {times[0]:6.2f} s, "
          f"{len(tip.grid)} deltas: {tip.note}")


if __name__ == "__main__":
    main()
