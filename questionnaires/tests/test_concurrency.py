"""Two saves of the same questionnaire at the same moment, on a database that really runs
them in parallel (PostgreSQL: the patient row lock serialises them)."""
from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.test import Client

from questionnaires.models import Administration
from tests.factories import full_answers

from .entry_helpers import entry_data, entry_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def _post_together(users, url: str, datas: list[dict]) -> list[int]:
    barrier = threading.Barrier(len(users))
    statuses: list[int] = [0] * len(users)

    def run(index: int) -> None:
        client = Client()
        client.force_login(users[index])
        barrier.wait()
        try:
            statuses[index] = client.post(url, datas[index]).status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(users))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def test_simultaneous_identical_submissions_create_one_record(postgres_only, nurse_a,
                                                              make_patient):
    patient = make_patient()
    data = entry_data(full_answers(), administered_on=patient.consented_on)
    statuses = _post_together([nurse_a, nurse_a], entry_url(patient), [data, data])
    assert statuses == [302, 302]
    assert Administration.objects.filter(patient=patient).count() == 1
    assert Administration.history.filter(patient_id=patient.pk).count() == 1


def test_simultaneous_different_edits_save_one_and_refuse_the_other(
        postgres_only, nurse_a, data_manager, make_patient, make_administration):
    patient = make_patient()
    admin = make_administration(patient, complete=False)
    datas = [entry_data(full_answers() | {code: 9}, administered_on=admin.administered_on,
                        action="draft", base_version=admin.version)
             for code in ("bpi_worst", "bpi_least")]
    statuses = _post_together([nurse_a, data_manager], entry_url(patient), datas)
    assert sorted(statuses) == [200, 302]  # one saved, one shown the conflict
    admin.refresh_from_db()
    assert admin.version == 2
    assert sorted([admin.bpi_worst, admin.bpi_least]) == [5, 9]  # exactly one change applied


def test_simultaneous_submissions_of_one_enrolment_form_create_one_patient(postgres_only,
                                                                          nurse_a, clinic_a):
    from django.urls import reverse

    from patients.models import Patient

    data = {"consent_given": "on", "consented_on": "2026-01-05", "consent_form_version": "v1",
            "consent_taken_by": "Nurse A", "enrolment_key": "6f1c2d3e-0000-4000-8000-0000000000aa"}
    statuses = _post_together([nurse_a, nurse_a], reverse("patients:enrol", args=["A"]),
                              [data, data])
    assert statuses == [302, 302]
    assert list(Patient.objects.values_list("study_id", flat=True)) == ["A-001"]
