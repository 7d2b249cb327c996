"""Builders of test data, shared by every app's tests (the root conftest.py's fixtures
call them): users with roles, patients and administrations made through the services, as
the application makes them.

Django models are imported inside the builders, so that the pure tests (scoring, the
multilevel fit) also run without Django (`pytest -p no:django`).
"""
from __future__ import annotations

import datetime as dt

from django.utils import timezone

PASSWORD = "correct-horse-battery-staple"


def make_user(username: str, clinics, role: str):
    """A user with `role` at each of `clinics`, signing in with PASSWORD."""
    from django.contrib.auth import get_user_model

    from clinics.models import Membership

    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    for clinic in clinics:
        Membership.objects.create(user=user, clinic=clinic, role=role)
    return user


def full_answers(bpi: int = 5, ppic: int = 4, pih: int = 6) -> dict[str, int]:
    """Every item answered with one value per instrument."""
    from questionnaires.instruments import BPI, PIH, PPIC

    answers = {code: bpi for code in BPI.item_codes}
    answers.update({code: ppic for code in PPIC.item_codes})
    answers.update({code: pih for code in PIH.item_codes})
    return answers


def enrol_patient(*, clinic, by, consented_on: dt.date | None = None, **kwargs):
    """A consented patient with typical baseline characteristics (overridable)."""
    from patients.services import patient_enrol

    characteristics = dict(age=48, gender="female", ethnicity="white_british",
                           education="below_a_level", pain_years=6, pain_sites=2)
    characteristics.update(kwargs)
    return patient_enrol(
        clinic=clinic, consented_on=consented_on or timezone.localdate() - dt.timedelta(days=100),
        consent_form_version="v1.0", consent_taken_by="Nurse A", by=by, **characteristics)


def save_administration(patient, *, by, timepoint: str = "baseline",
                        administered_on: dt.date | None = None, answers: dict | None = None,
                        complete: bool = True):
    """An administration saved through the service: baseline on the consent date,
    follow-up 90 days later, every item answered unless `answers` says otherwise."""
    from questionnaires.services import administration_save

    if administered_on is None:
        administered_on = (patient.consented_on if timepoint == "baseline"
                           else patient.consented_on + dt.timedelta(days=90))
    return administration_save(
        patient=patient, timepoint=timepoint, administered_on=administered_on,
        answers=full_answers() if answers is None else answers, by=by, complete=complete)
