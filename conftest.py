"""Fixtures chosen once for the whole project.

Every access test has a nurse at the patient's clinic, a nurse at another clinic and a
researcher; `make_patient` and `make_administration` build clinical data through the
services, as the application does. The builders live in tests/factories.py: import them
from there, not from this file.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings as hypothesis_settings

from tests.factories import enrol_patient, make_user, save_administration
from tests.services import require_postgresql

# Property tests check what is computed, not how fast: on a loaded 2-core CI machine
# Hypothesis' 200 ms deadline per example failed a scoring property now and then.
hypothesis_settings.register_profile("paincohort", deadline=None)
hypothesis_settings.load_profile("paincohort")

if TYPE_CHECKING:
    from clinics.models import Clinic

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
    return make_user("nurse_a", [clinic_a], "nurse")


@pytest.fixture
def nurse_b(clinic_b):
    return make_user("nurse_b", [clinic_b], "nurse")


@pytest.fixture
def researcher(clinic_a):
    return make_user("researcher", [clinic_a], "researcher")


@pytest.fixture
def statistician(clinic_a):
    return make_user("statistician", [clinic_a], "statistician")


@pytest.fixture
def data_manager(clinic_a):
    return make_user("data_manager", [clinic_a], "data_manager")


@pytest.fixture
def manager(data_manager):
    """A data manager who may use the admin (staff)."""
    data_manager.is_staff = True
    data_manager.save()
    return data_manager


@pytest.fixture
def site_data(manager, nurse_a, clinic_a, make_patient, make_administration) -> dict:
    """A record of every admin model and the values of every URL's parameters."""
    from tests.site_walk import site_records

    return site_records(manager, nurse_a, clinic_a, make_patient, make_administration)


@pytest.fixture
def postgres_only():
    """Tests of concurrency or of PostgreSQL's triggers (skipped on SQLite, failed in CI)."""
    require_postgresql("needs PostgreSQL (SQLite serialises writers and has no triggers)")


@pytest.fixture
def make_patient(clinic_a, nurse_a):
    def make(clinic: Clinic | None = None, consented_on: dt.date | None = None, **kwargs):
        return enrol_patient(clinic=clinic or clinic_a, by=nurse_a, consented_on=consented_on,
                             **kwargs)

    return make


@pytest.fixture
def make_administration(nurse_a):
    def make(patient, timepoint: str = "baseline", administered_on: dt.date | None = None,
             answers: dict | None = None, complete: bool = True, by=None):
        return save_administration(patient, by=by or nurse_a, timepoint=timepoint,
                                   administered_on=administered_on, answers=answers,
                                   complete=complete)

    return make


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache (link-guess counts, the dashboard's counts)."""
    from django.core.cache import cache

    cache.clear()
