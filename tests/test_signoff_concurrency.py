"""Sign-off and a save at the same moment (PostgreSQL): both take the patient's row lock,
so one waits for the other and then sees what it did; never a signed-off record with a
draft in it, never a save into a signed-off record.

Each test holds one side open inside its transaction, checks in pg_stat_activity that the
other side is waiting on a lock, then lets the first commit.
"""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from patients.models import Patient
from patients.services import record_sign_off
from questionnaires.models import Administration
from questionnaires.services import administration_save
from tests.factories import full_answers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def _in_thread(work, results: dict, key: str, hold: threading.Event | None = None,
               started: threading.Event | None = None) -> threading.Thread:
    def run() -> None:
        try:
            with transaction.atomic():
                results[key] = work()
                if started is not None:
                    started.set()
                if hold is not None:
                    hold.wait(timeout=30)
        except ValidationError as error:
            results[key] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _wait_until_someone_waits_on_a_lock() -> None:
    """Poll (no fixed sleep) until another connection is blocked on a row lock."""
    for _ in range(3000):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                           "'Lock' AND datname = current_database() "
                           "AND pid <> pg_backend_pid()")
            if cursor.fetchone()[0]:
                return
        threading.Event().wait(0.01)
    pytest.fail("the second side never waited on the patient's lock")


def _followup_draft(patient, by):
    return lambda: administration_save(
        patient=patient, timepoint="followup",
        administered_on=patient.consented_on + dt.timedelta(days=90),
        answers=full_answers(), by=by, complete=False)


@pytest.fixture
def ready(make_patient, make_administration):
    patient = make_patient()
    make_administration(patient)
    return Patient.objects.get(pk=patient.pk)


def test_save_first_then_sign_off_waits_and_sees_the_draft(postgres_only, ready, nurse_a,
                                                           data_manager):
    results: dict = {}
    hold, started = threading.Event(), threading.Event()
    saving = _in_thread(_followup_draft(ready, nurse_a), results, "save", hold, started)
    assert started.wait(timeout=30)
    signing = _in_thread(lambda: record_sign_off(patient=ready, by=data_manager),
                         results, "sign_off")
    _wait_until_someone_waits_on_a_lock()
    hold.set()
    saving.join(timeout=60)
    signing.join(timeout=60)
    assert isinstance(results["save"], Administration)
    assert isinstance(results["sign_off"], ValidationError)
    assert "1 questionnaire is a draft" in results["sign_off"].messages[0]
    assert not Patient.objects.get(pk=ready.pk).is_signed_off


def test_sign_off_first_then_the_save_waits_and_is_refused(postgres_only, ready, nurse_a,
                                                           data_manager):
    results: dict = {}
    hold, started = threading.Event(), threading.Event()
    signing = _in_thread(lambda: record_sign_off(patient=ready, by=data_manager),
                         results, "sign_off", hold, started)
    assert started.wait(timeout=30)
    saving = _in_thread(_followup_draft(ready, nurse_a), results, "save")
    _wait_until_someone_waits_on_a_lock()
    hold.set()
    signing.join(timeout=60)
    saving.join(timeout=60)
    assert Patient.objects.get(pk=ready.pk).is_signed_off
    assert isinstance(results["save"], ValidationError)
    assert results["save"].code == "signed_off"
    assert not Administration.objects.filter(patient=ready, timepoint="followup").exists()
