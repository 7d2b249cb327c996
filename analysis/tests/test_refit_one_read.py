"""Issue 18 item 4: one read of the cohort per refit; the fingerprint from the database.

On PostgreSQL the fingerprint is an aggregate the database computes (no row sent), so
deciding whether to refit costs no read of the cohort, and the run's own read gives the
fingerprint of the same snapshot. On SQLite (small cohorts) it is the frame's hash.
"""
import pytest
from django.utils import timezone

from analysis.runs import compute, services
from analysis.stats import cohort
from patients.services import patient_withdraw
from questionnaires.models import Administration
from tests.factories import full_answers
from tests.services import require_postgresql

OPTIONS = compute.normalise_options({})


@pytest.fixture
def two_patients(make_patient, make_administration, clinic_b):
    first = make_patient(age=50, gender="male")
    make_administration(first, "baseline", answers=full_answers(bpi=3, ppic=4, pih=5))
    make_administration(first, "followup", answers=full_answers(bpi=2, ppic=5, pih=7))
    second = make_patient(clinic=clinic_b, age=61, education="none")
    make_administration(second, "baseline", answers=full_answers(bpi=7, ppic=2, pih=3))
    return first, second


@pytest.fixture
def reads(monkeypatch):
    """Counts the reads of the cohort's rows (load_cohort), whoever makes them."""
    calls = []
    real = cohort.load_cohort

    def counting():
        calls.append(1)
        return real()

    monkeypatch.setattr(cohort, "load_cohort", counting)
    monkeypatch.setattr(compute, "load_cohort", counting)
    return calls


def test_the_runs_fingerprint_is_the_one_that_decided_it(two_patients):
    # SQLite and PostgreSQL alike: a run's results carry the fingerprint data_fingerprint
    # gives for the same data, so an unchanged cohort is not refitted
    results, _ = compute.compute_results(options={})
    assert results["fingerprint"] == compute.data_fingerprint(OPTIONS)


def test_a_refit_reads_the_cohort_once_on_postgresql(two_patients, reads):
    require_postgresql()
    run, created = services.model_run_request(force=True)
    assert created and reads == []  # deciding and queueing read no row
    run = services.model_run_execute(run_id=run.pk)
    assert run.status == "succeeded", run.error
    assert reads == [1]
    assert run.fingerprint == compute.data_fingerprint(OPTIONS)


def test_an_unchanged_cohort_is_not_refitted_and_reads_nothing(two_patients, reads):
    require_postgresql()
    run, _ = services.model_run_request(force=True)
    services.model_run_execute(run_id=run.pk)
    reads.clear()
    again, created = services.model_run_request()
    assert not created and again.pk == run.pk and reads == []


def test_a_change_between_queueing_and_reading_is_refitted_next(two_patients, reads):
    """The run keeps the fingerprint taken when it was queued; data changed before its
    read make the next request see a different fingerprint, so nothing is taken as
    fitted that was not (SQLite and PostgreSQL)."""
    first, _ = two_patients
    run, _ = services.model_run_request(force=True)
    Administration.objects.filter(patient=first, timepoint="followup").update(
        bpi_severity=9.5)
    run = services.model_run_execute(run_id=run.pk)
    assert run.status == "succeeded" and run.results["fingerprint"] == run.fingerprint
    assert run.fingerprint != compute.data_fingerprint(OPTIONS)
    again, created = services.model_run_request()
    assert created and again.pk != run.pk
    again = services.model_run_execute(run_id=again.pk)
    assert again.fingerprint == compute.data_fingerprint(OPTIONS)
    assert services.model_run_request() == (again, False)


def _database_fingerprint() -> str:
    return cohort.cohort_fingerprint(OPTIONS)


def test_the_database_fingerprint_changes_with_any_analysed_value(two_patients, nurse_a):
    require_postgresql()
    first, second = two_patients
    before = _database_fingerprint()
    assert _database_fingerprint() == before
    assert cohort.cohort_fingerprint({**OPTIONS, "reml": True}) != before
    follow = Administration.objects.filter(patient=first, timepoint="followup")
    score = follow.values_list("bpi_severity", flat=True).get()
    # the last bit of a double: PostgreSQL's float8 text is exact, so this shows
    follow.update(bpi_severity=score + score * 2.0**-52)
    changed = _database_fingerprint()
    assert changed != before
    follow.update(bpi_severity=score)
    assert _database_fingerprint() == before
    # a characteristic, a category, the follow-up status: each changes it
    type(first).objects.filter(pk=first.pk).update(age=51)
    assert _database_fingerprint() != before
    type(first).objects.filter(pk=first.pk).update(age=50, education="a_level_or_above")
    assert _database_fingerprint() != before
    type(first).objects.filter(pk=first.pk).update(education=first.education)
    assert _database_fingerprint() == before
    status = type(first).objects.values_list("followup_status", flat=True).get(pk=first.pk)
    type(first).objects.filter(pk=first.pk).update(
        followup_status="lost" if status != "lost" else "active",
        lost_reason="discharged" if status != "lost" else "")
    assert _database_fingerprint() != before
    type(first).objects.filter(pk=first.pk).update(followup_status=status, lost_reason="")
    assert _database_fingerprint() == before
    patient_withdraw(patient=second, withdrawn_on=timezone.localdate(), reason="",
                     keep_collected_data=False, by=nurse_a)
    assert _database_fingerprint() != before


def test_the_database_fingerprint_ignores_dates_and_row_order(two_patients):
    require_postgresql()
    first, _ = two_patients
    before = _database_fingerprint()
    follow = Administration.objects.filter(patient=first, timepoint="followup")
    follow.update(administered_on=follow.get().administered_on.replace(day=1))
    assert _database_fingerprint() == before  # no analysis uses the date


def test_two_values_swapped_between_patients_change_the_fingerprint(two_patients):
    """Order-free sums of row hashes, but each row's text holds its study ID: swapping two
    patients' ages is a change."""
    require_postgresql()
    first, second = two_patients
    Patient = type(first)
    before = _database_fingerprint()  # ages 50 and 61
    Patient.objects.filter(pk=first.pk).update(age=61)
    Patient.objects.filter(pk=second.pk).update(age=50)
    assert _database_fingerprint() != before
