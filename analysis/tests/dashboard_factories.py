"""Test data for the dashboard and export tests: small cohorts built through the services."""
from __future__ import annotations

import datetime as dt

from conftest import full_answers


def answers_for(index: int, timepoint: str) -> dict[str, int]:
    """Answers that vary by patient and rise at follow-up (PIH), so changes differ."""
    bump = 1 if timepoint == "followup" else 0
    answers = full_answers(bpi=(index % 7) + 2 - bump, ppic=(index % 4) + 1 + bump,
                           pih=min(8, (index % 6) + 1 + bump * (index % 3)))
    answers["pih_12"] = (index * 5) % 9                    # unequal items: fractional scores
    answers["bpi_least"] = (index * 3) % 11
    return answers


def build_cohort(make_patient, make_administration, *, n: int, followup_every: int = 2,
                 clinic=None, prefix: str = "") -> list:
    """n patients with a complete baseline; every `followup_every`-th also followed up."""
    patients = []
    for index in range(n):
        kwargs = {"study_id": f"{prefix}{index:04d}"} if prefix else {}
        patient = make_patient(clinic=clinic, age=20 + (index * 7) % 60,
                               gender=("male", "female")[index % 2], **kwargs)
        make_administration(patient, "baseline", answers=answers_for(index, "baseline"))
        if index % followup_every == 0:
            make_administration(patient, "followup", answers=answers_for(index, "followup"))
        patients.append(patient)
    return patients


def old_date(days: int) -> dt.date:
    return dt.date.today() - dt.timedelta(days=days)
