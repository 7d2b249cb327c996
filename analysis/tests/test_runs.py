"""Model runs and the refit outbox: coalescing, broker down, idempotence, recovery."""
import datetime as dt
import socket

import pytest
import redis
from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from analysis import selectors, services
from analysis.models import ModelRun, RefitState, RunStatus
from analysis.refit import refit_request_after_commit
from analysis.tests.brokers import CLOSED_PORT_BROKER, broker, redis_url_or_skip
from analysis.tests.cohort_factory import build_cohort
from patients.services import patient_update

BROKER_MODE = override_settings(CELERY_TASK_ALWAYS_EAGER=False)


def _pending() -> int:
    state = RefitState.objects.filter(pk=services.STATE_PK).first()
    return state.pending_changes if state else 0


@pytest.fixture
def cohort(clinic_a):
    return build_cohort(seed=5, sizes={"A": 20, "B": 25, "C": 15})


@pytest.fixture
def sent(monkeypatch):
    """Tasks 'sent' to a broker that accepts everything: (task name, args, countdown)."""
    messages = []

    def fake_send(task, *args, countdown=0):
        messages.append((task.name, args, countdown))
        return True

    monkeypatch.setattr(services, "_send", fake_send)
    return messages


@pytest.fixture
def clock(monkeypatch):
    """A settable clock for timezone.now (services, auto_now fields)."""
    current = [timezone.now()]
    monkeypatch.setattr(timezone, "now", lambda: current[0])
    return current


def _succeeded_run() -> ModelRun:
    run, created = services.model_run_request(trigger="test")
    assert created
    return services.model_run_execute(run_id=run.pk)


# --- the outbox --------------------------------------------------------------------------


def test_a_data_change_counts_a_pending_refit_inside_its_transaction(make_patient):
    make_patient()
    assert _pending() == 1
    with pytest.raises(RuntimeError), transaction.atomic():
        make_patient()
        raise RuntimeError("the data change is rolled back")
    assert _pending() == 1


def test_counting_a_change_costs_one_query(make_patient, django_assert_num_queries):
    make_patient()
    with django_assert_num_queries(1):
        services.refit_record_change(reason="test")


@BROKER_MODE
def test_a_burst_of_commits_sends_one_task_with_the_coalescing_countdown(
        make_patient, sent, django_capture_on_commit_callbacks):
    for _ in range(50):
        with django_capture_on_commit_callbacks(execute=True):
            make_patient()
    assert sent == [("analysis.refit_pending", (), services.coalesce_seconds())]
    assert _pending() == 50


@BROKER_MODE
def test_fifty_changes_in_a_minute_cause_at_most_two_runs(
        cohort, nurse_a, sent, clock, django_capture_on_commit_callbacks):
    start = clock[0]
    due: list[dt.datetime] = []

    def deliver_until(moment):
        for when in sorted(due):
            if when <= moment:
                due.remove(when)
                clock[0] = when
                services.refit_process()

    for i in range(50):
        moment = start + dt.timedelta(seconds=i * 60 / 50)
        deliver_until(moment)
        clock[0] = moment
        before = len(sent)
        with django_capture_on_commit_callbacks(execute=True):
            # each change alters the analysed data: another patient's age
            patient_update(patient=cohort[i], by=nurse_a, reason="typo", age=20 + i)
        due.extend(moment + dt.timedelta(seconds=countdown) for _, _, countdown in
                   sent[before:])
    deliver_until(start + dt.timedelta(hours=1))
    runs = ModelRun.objects.all()
    assert 1 <= runs.count() <= 2
    assert sum(run.changes_included for run in runs) == 50
    assert _pending() == 0


@BROKER_MODE
def test_with_the_broker_down_data_entry_succeeds_and_the_request_stays_pending(
        make_patient, make_administration, django_capture_on_commit_callbacks):
    patient = make_patient()
    with broker(CLOSED_PORT_BROKER), django_capture_on_commit_callbacks(execute=True):
        administration = make_administration(patient)
    assert administration.pk is not None
    state = RefitState.objects.get(pk=services.STATE_PK)
    assert state.pending_changes == 2
    assert state.dispatched_at is None  # nothing on its way: the sweep must send it again
    assert "broker unreachable" in state.last_dispatch_error


@BROKER_MODE
def test_a_broker_that_accepts_but_never_answers_does_not_hold_up_data_entry(
        make_patient, make_administration, django_capture_on_commit_callbacks):
    patient = make_patient()
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never replies
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        with broker(url), django_capture_on_commit_callbacks(execute=True):
            make_administration(patient)
        with broker(url):  # the first send still hangs: the next one gives up at once
            assert services.refit_dispatch_pending() == "broker_down"
    services._send_in_flight.join(10)  # the closed socket ends the hung send
    state = RefitState.objects.get(pk=services.STATE_PK)
    assert (state.pending_changes, state.dispatched_at) == (2, None)


@BROKER_MODE
def test_a_request_kept_while_the_broker_was_down_is_sent_when_it_is_back(make_patient):
    url = redis_url_or_skip(db=13)
    queue = redis.Redis.from_url(url)
    queue.delete("celery")
    with broker(CLOSED_PORT_BROKER):
        make_patient()
        assert services.refit_dispatch_pending() == "broker_down"
    with broker(url):
        assert services.refit_sweep()["pending"] == "sent"
    try:
        assert queue.llen("celery") == 1
        assert RefitState.objects.get(pk=services.STATE_PK).dispatched_at is not None
    finally:
        queue.delete("celery")


@BROKER_MODE
def test_a_task_presumed_lost_is_sent_again(make_patient, sent, clock):
    make_patient()
    assert services.refit_dispatch_pending() == "sent"
    assert services.refit_dispatch_pending() == "already_sent"
    clock[0] += services.redispatch_after() + dt.timedelta(seconds=1)
    assert services.refit_sweep()["pending"] == "sent"
    assert len(sent) == 2


def test_nothing_is_sent_or_run_when_nothing_is_pending(db, sent):
    with BROKER_MODE:
        assert services.refit_dispatch_pending() == "nothing_pending"
    assert services.refit_process() == []
    assert not ModelRun.objects.exists()


# --- runs --------------------------------------------------------------------------------


def test_pending_changes_become_a_run_that_records_everything(cohort):
    assert _pending() == 0  # bulk-created data; count some changes
    services.refit_record_change(reason="A-001 baseline saved")
    executed = services.refit_process()
    run = ModelRun.objects.get(pk=executed[0])
    assert run.status == RunStatus.SUCCEEDED
    assert run.changes_included == 1
    assert run.options == {"population": "completers", "reml": False}
    assert len(run.fingerprint) == 64 and run.fingerprint == run.results["fingerprint"]
    assert set(run.results) >= {"table1", "table2", "change", "attrition", "warnings"}
    assert set(run.versions) >= {"python", "numpy", "pandas", "scipy", "statsmodels",
                                 "scoring"}
    assert set(run.timings) >= {"load", "table1", "table2", "total"}
    assert run.started_at <= run.finished_at
    assert _pending() == 0


def test_unchanged_data_causes_no_new_run(cohort, nurse_a):
    first = _succeeded_run()
    patient = first and cohort[0]
    patient.refresh_from_db()
    patient_update(patient=patient, by=nurse_a, reason="no real change", age=patient.age)
    assert _pending() == 1
    assert services.refit_process() == []
    assert list(ModelRun.objects.all()) == [first]
    assert _pending() == 0


def test_changed_data_causes_a_new_run(cohort, nurse_a):
    first = _succeeded_run()
    patient = cohort[0]
    patient.refresh_from_db()
    patient_update(patient=patient, by=nurse_a, reason="typo", age=patient.age + 1)
    [new_id] = services.refit_process()
    assert ModelRun.objects.get(pk=new_id).fingerprint != first.fingerprint


def test_a_run_delivered_twice_is_executed_once(cohort):
    run, _ = services.model_run_request(trigger="test")
    assert services.model_run_execute(run_id=run.pk).status == RunStatus.SUCCEEDED
    assert services.model_run_execute(run_id=run.pk) is None
    run.refresh_from_db()
    assert run.attempts == 1


def test_a_failed_run_keeps_its_error_and_the_last_success_stays_shown(cohort, monkeypatch):
    good = _succeeded_run()

    def broken(**kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(services, "compute_results", broken)
    run, _ = services.model_run_request(trigger="test", force=True)
    services.model_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "ZeroDivisionError: boom" in run.error
    assert selectors.latest_successful_run() == good


def test_the_soft_time_limit_fails_the_run_with_a_clear_error(cohort, monkeypatch):
    def too_slow(**kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(services, "compute_results", too_slow)
    run, _ = services.model_run_request(trigger="test")
    services.model_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "time limit" in run.error


def test_the_last_success_stays_shown_while_a_new_run_is_running(cohort):
    good = _succeeded_run()
    running = ModelRun.objects.create(status=RunStatus.RUNNING, started_at=timezone.now(),
                                      heartbeat_at=timezone.now(), changes_included=3)
    assert selectors.latest_successful_run() == good
    assert selectors.run_in_progress() == running
    changes = selectors.changes_since_last_fit()
    assert changes.count == 3 and changes.in_progress == running


def _stale_running_run(attempts: int = 1) -> ModelRun:
    long_ago = timezone.now() - services.stale_after() - dt.timedelta(seconds=1)
    return ModelRun.objects.create(status=RunStatus.RUNNING, started_at=long_ago,
                                   heartbeat_at=long_ago, attempts=attempts,
                                   options={"population": "complete_cases"})


def test_a_run_left_running_by_a_dead_worker_is_run_again(cohort):
    run = _stale_running_run()
    assert services.refit_process() == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.attempts) == (RunStatus.SUCCEEDED, 2)


def test_a_redelivered_task_takes_over_a_run_whose_worker_died(cohort):
    run = _stale_running_run()
    assert services.model_run_execute(run_id=run.pk).status == RunStatus.SUCCEEDED


def test_a_running_run_with_a_recent_heartbeat_is_not_taken_over(cohort):
    run = ModelRun.objects.create(status=RunStatus.RUNNING, started_at=timezone.now(),
                                  heartbeat_at=timezone.now(), attempts=1)
    assert services.model_run_execute(run_id=run.pk) is None
    assert services.model_runs_requeue_stale() == []
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING


def test_a_run_whose_worker_died_too_often_fails_with_the_reason(cohort):
    run = _stale_running_run(attempts=services.MAX_ATTEMPTS)
    assert services.model_runs_requeue_stale() == []
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "the worker was lost" in run.error


def test_a_zombie_worker_cannot_overwrite_a_run_taken_over_by_another(cohort, monkeypatch):
    run = _stale_running_run()
    real = services.compute_results

    def takeover_midway(**kwargs):
        # another worker re-claims the run while this one computes (attempt 3 > 2)
        ModelRun.objects.filter(pk=run.pk).update(attempts=3, error="")
        return real(**kwargs)

    monkeypatch.setattr(services, "compute_results", takeover_midway)
    services.model_run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.results is None


def test_an_unknown_population_is_refused_by_name(db):
    with pytest.raises(ValidationError) as error:
        services.model_run_request(options={"population": "everyone"})
    assert "population" in error.value.message_dict


# --- without a broker -------------------------------------------------------------------


@override_settings(ANALYSIS_REFIT_IN_PROCESS="inline", CELERY_TASK_ALWAYS_EAGER=True)
def test_without_a_broker_inline_mode_fits_after_the_commit(
        cohort, make_patient, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        make_patient(age=33)
    assert ModelRun.objects.get().status == RunStatus.SUCCEEDED
    assert _pending() == 0


@override_settings(ANALYSIS_REFIT_IN_PROCESS="off", CELERY_TASK_ALWAYS_EAGER=True)
def test_without_a_broker_off_mode_only_keeps_the_request(
        cohort, make_patient, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        make_patient(age=33)
    assert not ModelRun.objects.exists()
    assert selectors.changes_since_last_fit().count == 1


def test_the_after_commit_hook_never_raises_into_the_data_change(
        make_patient, monkeypatch, django_capture_on_commit_callbacks):
    def failing():
        raise ConnectionError("broker and worse")

    monkeypatch.setattr(services, "refit_dispatch_pending", failing)
    with django_capture_on_commit_callbacks(execute=True):
        refit_request_after_commit(reason="test")
    assert _pending() == 1


# --- the command -------------------------------------------------------------------------


def test_refit_command_sync_prints_table2(cohort, capsys):
    call_command("refit", "--sync", "--variant", "paper")
    out = capsys.readouterr().out
    assert "succeeded" in out
    assert "PIH knowledge - As published" in out
    assert "Partnership (PPiC)" in out
    assert "Female (ref male)" in out
    assert ModelRun.objects.get().status == RunStatus.SUCCEEDED


def test_refit_command_on_unchanged_data_shows_the_last_run(cohort, capsys):
    run = _succeeded_run()
    call_command("refit", "--sync")
    assert f"Data unchanged since run {run.pk}" in capsys.readouterr().out
    assert ModelRun.objects.count() == 1


@override_settings(ANALYSIS_REFIT_IN_PROCESS="thread", ANALYSIS_REFIT_THREAD_DELAY=0,
                   CELERY_TASK_ALWAYS_EAGER=True)
def test_without_a_broker_thread_mode_fits_in_the_background(transactional_db, clinic_a):
    build_cohort(seed=5, sizes={"A": 20, "B": 25, "C": 15})
    services.refit_record_change(reason="test")
    assert services.refit_dispatch_pending() == "in_process"
    services._thread.join(timeout=120)
    assert not services._thread.is_alive()
    assert ModelRun.objects.get().status == RunStatus.SUCCEEDED
    assert _pending() == 0


def test_refit_now_with_the_broker_down_keeps_the_run_queued_for_the_sweep(cohort, nurse_a):
    _succeeded_run()
    patient_update(patient=cohort[0], by=nurse_a, reason="test", age=77)
    with broker(CLOSED_PORT_BROKER):
        run, outcome = services.model_run_request_now(by=nurse_a, trigger="Refit now")
    assert outcome == "broker_down"
    assert ModelRun.objects.get(pk=run.pk).status == RunStatus.QUEUED


def test_refit_now_on_unchanged_data_queues_nothing(cohort, nurse_a):
    last = _succeeded_run()
    run, outcome = services.model_run_request_now(by=nurse_a, trigger="Refit now")
    assert (run.pk, outcome) == (last.pk, "unchanged")
    assert ModelRun.objects.count() == 1
