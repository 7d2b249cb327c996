"""The demo cohort (questionnaires.demo) as the cohort frame, without the database.

Rows are scored by the project's scoring (`scored`, as seed_demo stores them) and typed by
analysis.stats.cohort, so the frame equals what `load_cohort` returns after `seed_demo`
with the same seed and end date. Used by the attrition tests, the MI coverage script and
bench/bench_attrition.py (a database round trip adds nothing to what they check).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from analysis.stats.cohort import COLUMNS, _typed
from questionnaires.cohort_files.loader import scored
from questionnaires.demo import generate_demo_cohort
from questionnaires.instruments import SCORING_VERSION

# The end date the benches use: 85 completers, 35 lost, 27 still in the window.
DEMO_END_DATE = dt.date(2026, 11, 28)


def demo_cohort_frame(*, seed: int = 2018, n_patients: int = 147, n_clinics: int = 3,
                      end_date: dt.date = DEMO_END_DATE) -> pd.DataFrame:
    demo = generate_demo_cohort(n_patients=n_patients, n_clinics=n_clinics, seed=seed,
                                end_date=end_date)
    patients = {row["study_id"]: row for row in demo.patient_rows()}
    rows = []
    for number, administration in enumerate(demo.administration_rows()):
        patient = patients[administration["study_id"]]
        rows.append({"administration_id": number, "patient_id": 0,
                     "timepoint": administration["timepoint"],
                     "administered_on": administration["administered_on"], **patient,
                     **scored(administration["answers"]), "scoring_version": SCORING_VERSION})
    return _typed(pd.DataFrame(rows)[list(COLUMNS)])
