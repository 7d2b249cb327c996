"""Test data of the analysis tests: a demo-like cohort, bulk-created through the models.

The one cohort builder of analysis/, bench/ and the browser tests (users, single patients
and administrations through the services: tests/factories.py; synthetic data frames for
the fitter: fit_synthetic.py). Answers are drawn from latent traits (partnership,
self-management, pain) so that the PIH scores depend on partnership, as in the study;
scores are computed by the project's scoring module (questionnaires.services.apply_scores),
never typed in.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
from django.utils import timezone

from clinics.models import Clinic
from patients.models import FollowUpStatus, LostReason, Patient
from questionnaires.instruments import BPI, PIH, PPIC
from questionnaires.models import Administration, AdministrationStatus
from questionnaires.services import apply_scores

GENDERS = ["male", "female"]
ETHNICITIES = ["non_british", "white_british"]
EDUCATIONS = ["none", "below_a_level", "a_level_or_above"]
STAFF_NAME = "Nurse A"  # who took consent: no export may carry it


def _clip(values: np.ndarray, low: int, high: int) -> list[int]:
    return [int(v) for v in np.clip(np.rint(values), low, high)]


def _answers(rng: np.random.Generator, *, partnership: float, management: float,
             pain: float) -> dict[str, int]:
    answers = dict(zip(BPI.item_codes, _clip(pain + rng.normal(0, 1.2, 11), 0, 10),
                       strict=True))
    answers.update(zip(PPIC.item_codes, _clip(partnership + rng.normal(0, 0.6, 11), 1, 5),
                       strict=True))
    answers.update(zip(PIH.item_codes, _clip(management + rng.normal(0, 1.3, 12), 0, 8),
                       strict=True))
    return answers


def build_cohort(*, seed: int = 7, sizes: dict[str, int] | None = None,
                 followup_rate: float = 0.7) -> list[Patient]:
    """Clinics, patients and complete administrations; returns the patients."""
    rng = np.random.default_rng(seed)
    sizes = sizes or {"A": 45, "B": 70, "C": 32}
    today = timezone.localdate()
    patients, administrations = [], []
    for code, size in sizes.items():
        clinic, _ = Clinic.objects.get_or_create(code=code, defaults={"name": f"Clinic {code}"})
        clinic_effect = rng.normal(0, 0.3)
        for number in range(1, size + 1):
            consented = today - dt.timedelta(days=int(rng.integers(130, 400)))
            followed = rng.random() < followup_rate
            patient = Patient(
                study_id=f"{code}-{number:03d}", clinic=clinic, consented_on=consented,
                consent_form_version="v1", consent_taken_by=STAFF_NAME,
                age=int(np.clip(rng.normal(48, 14), 18, 90)),
                gender=GENDERS[int(rng.random() < 0.67)],
                ethnicity=ETHNICITIES[int(rng.random() < 0.8)],
                education=EDUCATIONS[int(rng.choice(3, p=[0.3, 0.5, 0.2]))],
                pain_years=int(rng.integers(0, 20)), pain_sites=int(rng.integers(1, 6)),
                followup_status=FollowUpStatus.COMPLETED if followed else FollowUpStatus.LOST,
                lost_reason="" if followed else
                (LostReason.DISCHARGED if rng.random() < 0.7 else LostReason.DID_NOT_ATTEND))
            patients.append(patient)
            trait, pain = rng.normal(0, 0.8), rng.normal(5.5, 1.4)
            for timepoint, shift, days in (("baseline", 0.0, 0), ("followup", 0.5, 91)):
                if timepoint == "followup" and not followed:
                    break
                partnership = 3.4 + shift + 0.6 * rng.normal() + 0.2 * clinic_effect
                management = 4.5 + 1.1 * (partnership - 3.4) + trait + clinic_effect
                administration = Administration(
                    patient=patient, timepoint=timepoint, status=AdministrationStatus.COMPLETE,
                    administered_on=consented + dt.timedelta(days=days),
                    **_answers(rng, partnership=partnership, management=management,
                               pain=pain - shift))
                apply_scores(administration)
                administrations.append(administration)
    Patient.objects.bulk_create(patients)
    for administration in administrations:
        administration.patient_id = administration.patient.pk
    Administration.objects.bulk_create(administrations)
    return patients
