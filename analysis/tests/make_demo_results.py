"""Write analysis/tests/data/demo_results.json.gz: a whole model run's results (schema 3) on
the demo cohort (demo_frame.py: seed 2018, end date 2026-11-28; 85 completers, 35 lost).

The dashboard tests render these stored results instead of computing them (a run with MI
and the tipping point takes ~20-40 s). Run again after a change to the results schema:

    .venv/bin/python analysis/tests/make_demo_results.py
"""
from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "data" / "demo_results.json.gz"


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.conf import settings

    settings.ANALYSIS_SLOW_CHECKS = True  # the test settings switch them off
    from analysis.runs import compute
    from analysis.tests.demo_frame import demo_cohort_frame

    cohort = demo_cohort_frame()
    with mock.patch.object(compute, "load_cohort", return_value=cohort):
        results, timings = compute.compute_results(options={})
    text = json.dumps(results, allow_nan=False, sort_keys=True)
    with gzip.open(OUT, "wt", encoding="utf-8") as handle:
        handle.write(text)
    print(f"{OUT}: {len(text):,} bytes of JSON; timings {timings}")


if __name__ == "__main__":
    main()
