"""A patient at clinic A with a complete baseline missing one BPI item, and a query on it."""
from __future__ import annotations

import pytest

from tests.factories import full_answers


@pytest.fixture
def patient(make_patient):
    return make_patient(study_id="A-001")


@pytest.fixture
def baseline(patient, make_administration):
    answers = full_answers()
    answers["bpi_worst"] = None  # BPI severity needs all four items: a missing score
    return make_administration(patient, "baseline", answers=answers)


@pytest.fixture
def query(baseline, data_manager):
    from dataqueries.services import query_raise

    created, _ = query_raise(patient=baseline.patient, administration=baseline,
                             item="bpi_worst", text="Worst pain is empty: please check.",
                             by=data_manager)
    return created
