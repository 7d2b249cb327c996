"""A freeze reads the cohort file and the analysis frame in one snapshot (PostgreSQL's
REPEATABLE READ): a questionnaire saved and committed between the two reads reaches
neither, so the freeze's file and its fit hold the same rows."""
from __future__ import annotations

import threading

import pytest
from django.db import connections

from analysis.freezes import services
from questionnaires.models import Administration
from tests.factories import save_administration

from .factories import build_cohort

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_a_save_committed_during_the_freeze_reaches_neither_file_nor_fit(
        postgres_only, clinic_a, nurse_a, make_patient, monkeypatch):
    build_cohort(seed=11, sizes={"A": 8})
    late = make_patient(study_id="A-090")
    rows_before = Administration.objects.count()
    real_load = services.load_cohort

    def save_elsewhere_then_load():
        def save() -> None:
            try:
                save_administration(late, by=nurse_a)
            finally:
                connections.close_all()

        thread = threading.Thread(target=save)
        thread.start()
        thread.join(timeout=60)
        assert Administration.objects.count() == rows_before  # this snapshot: not seen
        return real_load()

    monkeypatch.setattr(services, "load_cohort", save_elsewhere_then_load)
    freeze = services.freeze_create(label="during entry", by_name="test")
    assert Administration.objects.count() == rows_before + 1  # committed meanwhile
    assert freeze.snapshot.row_count == rows_before
    assert b"A-090" not in bytes(freeze.snapshot.data)
    assert freeze.results["counts"]["administrations"] == rows_before
