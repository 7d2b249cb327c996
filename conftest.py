"""Fixtures chosen once for the whole project.

Every access test has a nurse at the patient's clinic, a nurse at another clinic and a
researcher; `make_patient` and `make_administration` build clinical data through the
services, as the application does.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from clinics.models import Clinic

# Django models are imported inside the fixtures, so that the pure tests (scoring, the
# multilevel fit) also run without Django (`pytest -p no:django`).

PASSWORD = "correct-horse-battery-staple"


def _user(username: str, clinics: list[Clinic], role: str):
    from django.contrib.auth import get_user_model

    from clinics.models import Membership

    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    for clinic in clinics:
        Membership.objects.create(user=user, clinic=clinic, role=role)
    return user


@pytest.fixture
def clinic_a(db) -> Clinic:
    from clinics.models import Clinic

    return Clinic.objects.create(code="A", name="Clinic A")


@pytest.fixture
def clinic_b(db) -> Clinic:
    from clinics.models import Clinic

    return Clinic.objects.create(code="B", name="Clinic B")


@pytest.fixture
def nurse_a(clinic_a):
    return _user("nurse_a", [clinic_a], "nurse")


@pytest.fixture
def nurse_b(clinic_b):
    return _user("nurse_b", [clinic_b], "nurse")


@pytest.fixture
def researcher(clinic_a):
    return _user("researcher", [clinic_a], "researcher")


@pytest.fixture
def statistician(clinic_a):
    return _user("statistician", [clinic_a], "statistician")


@pytest.fixture
def data_manager(clinic_a):
    return _user("data_manager", [clinic_a], "data_manager")


@pytest.fixture
def make_patient(clinic_a, nurse_a):
    from patients.services import patient_enrol

    def make(clinic: Clinic | None = None, consented_on: dt.date | None = None, **kwargs):
        defaults = dict(age=48, gender="female", ethnicity="white_british",
                        education="below_a_level", pain_years=6, pain_sites=2)
        defaults.update(kwargs)
        return patient_enrol(
            clinic=clinic or clinic_a,
            consented_on=consented_on or dt.date.today() - dt.timedelta(days=100),
            consent_form_version="v1.0", consent_taken_by="Nurse A", by=nurse_a, **defaults)

    return make


def full_answers(bpi: int = 5, ppic: int = 4, pih: int = 6) -> dict[str, int]:
    """Every item answered with one value per instrument."""
    from questionnaires.instruments import BPI, PIH, PPIC

    answers = {code: bpi for code in BPI.item_codes}
    answers.update({code: ppic for code in PPIC.item_codes})
    answers.update({code: pih for code in PIH.item_codes})
    return answers


@pytest.fixture
def make_administration(nurse_a):
    from questionnaires.services import administration_save

    def make(patient, timepoint: str = "baseline", administered_on: dt.date | None = None,
             answers: dict | None = None, complete: bool = True, by=None):
        if administered_on is None:
            administered_on = (patient.consented_on if timepoint == "baseline"
                               else patient.consented_on + dt.timedelta(days=90))
        return administration_save(
            patient=patient, timepoint=timepoint, administered_on=administered_on,
            answers=full_answers() if answers is None else answers, by=by or nurse_a,
            complete=complete)

    return make
