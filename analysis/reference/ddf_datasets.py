"""Write the data sets of the ddf reference (analysis/tests/data/ddf/) and their manifest.

    DATABASE_URL=sqlite:////tmp/ddf_demo.sqlite3 .venv/bin/python -m analysis.reference.ddf_datasets

(the database must be empty or absent: it is migrated and seeded with `seed_demo`).
Writes: the demo cohort's analysed rows per Table 2 outcome (seed_demo's defaults, end date
fixed so that the cohort does not depend on the day it is run), simulated study-sized
three-level cohorts with a positive clinic variance, Pastes and sleepstudy (copied from
lme4 by make_ddf_reference.R), and manifest.json naming each model: data file, formula
(plain sum of numeric columns) and levels. Then run make_ddf_reference.R.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "ddf"
DEMO_END_DATE = "2026-06-30"
# (seed, clinics, patients, clinic sd): cohorts whose REML clinic variance is positive
SIMULATED = [(101, 3, 110, 5.0), (102, 4, 120, 4.0), (103, 5, 100, 4.0), (104, 3, 90, 6.0)]
SIM_FORMULA = ("pih_overall ~ partnership + followup + age + female + white_british"
               " + education_below_a_level + education_a_level_or_above + pain_years"
               " + pain_sites + bpi_severity")


def demo_models() -> list[dict]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django
    from django.core.management import call_command
    django.setup()
    from analysis.stats import regression
    from analysis.stats.cohort import load_cohort, patients_wide
    from analysis.stats.results import DEFAULT_OPTIONS, OUTCOMES, VARIANTS

    call_command("migrate", verbosity=0)
    call_command("seed_demo", f"--end-date={DEMO_END_DATE}", no_refit=True, verbosity=0)
    cohort = load_cohort()
    selection = regression.selection_for(cohort, patients_wide(cohort),
                                         population=DEFAULT_OPTIONS["population"])
    models = []
    for outcome, _ in OUTCOMES:
        rows = selection.analysed(outcome)
        name = f"demo_{outcome}.csv"
        rows.to_csv(OUT / name, index=False)
        for variant in VARIANTS:
            formula, _ = regression.formula_for(outcome, variant["key"], rows)
            models.append({"name": f"demo/{variant['key']}/{outcome}", "data": f"ddf/{name}",
                           "formula": formula, "levels": regression.LEVELS})
    return models


def simulated_models() -> list[dict]:
    from analysis.multilevel import fit_nested
    from analysis.tests.fit_synthetic import simulate_cohort, with_dummies

    models = []
    for seed, clinics, patients, sd in SIMULATED:
        rows = with_dummies(simulate_cohort(patients, clinics, seed=seed, sd_clinic=sd))
        fit = fit_nested(rows, SIM_FORMULA, ["clinic", "patient"], reml=True)
        assert fit.variances["clinic"] > 0, f"seed {seed}: clinic variance at 0, pick another"
        name = f"sim_{seed}.csv"
        rows.to_csv(OUT / name, index=False)
        models.append({"name": f"simulated/{seed}", "data": f"ddf/{name}", "formula": SIM_FORMULA,
                       "levels": ["clinic", "patient"]})
    return models


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    models = [*demo_models(), *simulated_models(),
              {"name": "pastes", "data": "pastes.csv", "formula": "strength ~ 1",
               "levels": ["batch", "cask"]},
              {"name": "sleepstudy", "data": "ddf/sleepstudy.csv", "formula": "Reaction ~ Days",
               "levels": ["Subject"]}]
    (OUT / "manifest.json").write_text(json.dumps({"models": models}, indent=1))


if __name__ == "__main__":
    main()
