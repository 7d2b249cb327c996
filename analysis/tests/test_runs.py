"""Model runs and the refit outbox: marking, the tick, coalescing, broker down,
idempotence, recovery after a dead worker, fencing, the command and "Refit now"."""
import datetime as dt
import json
import subprocess
import sys

import pytest
from celery.app.task import Task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import OperationalError, transaction
from django.test import override_settings
from django.utils import timezone

from analysis.models import ModelRun, RefitRequest, RunStatus
from analysis.runs import selectors, services
from analysis.runs.tasks import refit_tick_task
from analysis.tests.brokers import CLOSED_PORT_BROKER, broker
from analysis.tests.factories import build_cohort
from core.signals import data_changed
from patients.services import patient_update

WITH_A_WORKER = override_settings(CELERY_TASK_ALWAYS_EAGER=False)
WITHOUT_A_BROKER = override_settings(CELERY_TASK_ALWAYS_EAGER=True)  # the embedded default


def _pending() -> int:
    return RefitRequest.objects.filter(taken_at__isnull=True).count()


@pytest.fixture
def cohort(clinic_a):
    return build_cohort(seed=5, sizes={"A": 20, "B": 25, "C": 15})


@pytest.fixture
def published(monkeypatch):
    """Every task published to a broker (none should be, from data entry)."""
    sent = []
    monkeypatch.setattr(Task, "apply_async",
                        lambda self, *args, **kwargs: sent.append(self.name))
    return sent


def _succeeded_run() -> ModelRun:
    run, created = services.model_run_request(trigger="test")
    assert created
    return services.model_run_execute(run_id=run.pk)


def _change_age(patient, by, age: int) -> None:
    patient.refresh_from_db()
    patient_update(patient=patient, by=by, reason="typo", age=age)


# --- the outbox --------------------------------------------------------------------------


def test_a_data_change_marks_the_outbox_inside_its_transaction(make_patient):
    make_patient()
    assert _pending() == 1
    with pytest.raises(RuntimeError), transaction.atomic():
        make_patient()
        raise RuntimeError("the data change is rolled back")
    assert _pending() == 1


def test_marking_costs_one_query_and_updates_no_shared_row(db, django_assert_num_queries):
    with django_assert_num_queries(1) as queries:
        data_changed(reason="test")
    assert queries.captured_queries[0]["sql"].lstrip().upper().startswith("INSERT")


@WITH_A_WORKER
def test_data_entry_never_touches_the_broker(make_patient, make_administration, published,
                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        make_administration(make_patient())
    assert published == []
    assert _pending() == 2


@WITH_A_WORKER
def test_with_the_broker_down_data_entry_succeeds_and_the_next_tick_fits(
        cohort, make_patient, make_administration, django_capture_on_commit_callbacks):
    with broker(CLOSED_PORT_BROKER), django_capture_on_commit_callbacks(execute=True):
        administration = make_administration(make_patient(age=33))
    assert administration.pk is not None
    [run_id] = services.refit_tick()  # the broker is back: beat sends the next tick
    run = ModelRun.objects.get(pk=run_id)
    assert (run.status, run.changes_included) == (RunStatus.SUCCEEDED, 2)
    assert _pending() == 0


def test_fifty_changes_in_a_minute_cause_at_most_one_run_per_tick(cohort, nurse_a):
    """Beat ticks every ANALYSIS_REFIT_INTERVAL_SECONDS; changes 1.2 s apart for a minute."""
    interval = settings.ANALYSIS_REFIT_INTERVAL_SECONDS
    next_tick, ticks = interval, 0
    for i in range(50):
        if i * 60 / 50 >= next_tick:
            services.refit_tick()
            next_tick, ticks = next_tick + interval, ticks + 1
        _change_age(cohort[i], nurse_a, 20 + i)  # each change alters the analysed data
    services.refit_tick()
    runs = ModelRun.objects.all()
    assert 1 <= runs.count() <= ticks + 1 <= 60 / interval + 1
    assert sum(run.changes_included for run in runs) == 50
    assert all(run.status == RunStatus.SUCCEEDED for run in runs)
    assert _pending() == 0


def test_nothing_pending_nothing_run(db, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):  # abandoned runs, pending, queued, prune
        assert services.refit_tick() == []
    assert not ModelRun.objects.exists()


def test_when_another_worker_takes_the_changes_first_this_one_queues_nothing(
        cohort, monkeypatch):
    data_changed(reason="test")
    real = services.data_fingerprint

    def other_worker_first(options):
        monkeypatch.setattr(services, "data_fingerprint", real)
        assert services.refit_take_pending() is not None  # the other worker's claim
        return real(options)

    monkeypatch.setattr(services, "data_fingerprint", other_worker_first)
    assert services.refit_take_pending() is None
    assert ModelRun.objects.count() == 1


def test_a_change_made_while_the_data_is_read_stays_pending_for_the_next_tick(
        cohort, monkeypatch):
    data_changed(reason="first")
    real = services.data_fingerprint

    def change_meanwhile(options):
        fingerprint = real(options)
        data_changed(reason="during the read")  # not in this fingerprint
        return fingerprint

    monkeypatch.setattr(services, "data_fingerprint", change_meanwhile)
    run = services.refit_take_pending()
    assert run.changes_included == 1
    assert _pending() == 1


def test_requests_taken_a_week_ago_are_pruned(db):
    data_changed(reason="old")
    data_changed(reason="pending")
    RefitRequest.objects.filter(reason="old").update(
        taken_at=timezone.now() - dt.timedelta(days=8))
    assert services.refit_requests_prune() == 1
    assert list(RefitRequest.objects.values_list("reason", flat=True)) == ["pending"]


# --- runs --------------------------------------------------------------------------------


def test_pending_changes_become_a_run_that_records_everything(cohort):
    data_changed(reason="A-001 baseline saved")
    [run_id] = services.refit_tick()
    run = ModelRun.objects.get(pk=run_id)
    assert run.status == RunStatus.SUCCEEDED
    assert run.changes_included == 1 and "A-001 baseline saved" in run.trigger
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
    _change_age(cohort[0], nurse_a, cohort[0].age)  # saved, but nothing analysed changed
    assert _pending() == 1
    assert services.refit_tick() == []
    assert list(ModelRun.objects.all()) == [first]
    assert _pending() == 0


def test_changed_data_causes_a_new_run(cohort, nurse_a):
    first = _succeeded_run()
    _change_age(cohort[0], nurse_a, cohort[0].age + 1)
    [new_id] = services.refit_tick()
    assert ModelRun.objects.get(pk=new_id).fingerprint != first.fingerprint


def test_a_run_delivered_twice_is_executed_once(cohort):
    run, _ = services.model_run_request(trigger="test")
    assert services.model_run_execute(run_id=run.pk).status == RunStatus.SUCCEEDED
    assert services.model_run_execute(run_id=run.pk) is None
    assert services.refit_tick() == []  # a second tick finds nothing to do
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
    assert run.error == f"Stopped at the time limit ({settings.ANALYSIS_REFIT_SOFT_TIME_LIMIT} s)."


def test_the_task_takes_its_time_limits_from_the_settings_and_beat_sends_it():
    assert refit_tick_task.soft_time_limit == settings.ANALYSIS_REFIT_SOFT_TIME_LIMIT
    assert refit_tick_task.time_limit == settings.ANALYSIS_REFIT_TIME_LIMIT
    assert refit_tick_task.soft_time_limit < refit_tick_task.time_limit
    entry = settings.CELERY_BEAT_SCHEDULE["analysis-refit-tick"]
    assert entry["task"] == refit_tick_task.name == "analysis.refit_tick"
    assert entry["schedule"] == settings.ANALYSIS_REFIT_INTERVAL_SECONDS


def test_the_last_success_stays_shown_while_a_new_run_is_running(cohort):
    good = _succeeded_run()
    running = ModelRun.objects.create(status=RunStatus.RUNNING, started_at=timezone.now(),
                                      heartbeat_at=timezone.now(), changes_included=3)
    data_changed(reason="meanwhile")
    assert selectors.latest_successful_run() == good
    assert selectors.run_in_progress() == running
    changes = selectors.changes_since_last_fit()
    assert changes.count == 4 and changes.in_progress == running


# --- a dead worker, a zombie -------------------------------------------------------------


def _stale_running_run(attempts: int = 1) -> ModelRun:
    long_ago = timezone.now() - services.stale_after() - dt.timedelta(seconds=1)
    return ModelRun.objects.create(status=RunStatus.RUNNING, started_at=long_ago,
                                   heartbeat_at=long_ago, attempts=attempts,
                                   options={"population": "complete_cases"})


def test_a_killed_workers_run_is_retried_within_two_minutes():
    # the next tick after the heartbeat goes stale takes the run over
    worst_case = settings.ANALYSIS_REFIT_STALE_SECONDS + settings.ANALYSIS_REFIT_INTERVAL_SECONDS
    assert worst_case <= 120


def test_a_run_left_running_by_a_dead_worker_is_taken_over_by_the_next_tick(cohort):
    run = _stale_running_run()
    assert services.refit_tick() == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.attempts) == (RunStatus.SUCCEEDED, 2)


def test_a_running_run_with_a_recent_heartbeat_is_not_taken_over(cohort):
    run = ModelRun.objects.create(status=RunStatus.RUNNING, started_at=timezone.now(),
                                  heartbeat_at=timezone.now(), attempts=1)
    assert services.model_run_execute(run_id=run.pk) is None
    assert services.refit_tick() == []
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING


def test_a_run_whose_worker_died_too_often_fails_with_the_reason(cohort):
    run = _stale_running_run(attempts=services.MAX_ATTEMPTS)
    assert services.refit_tick() == []
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


# --- the command, "Refit now" -------------------------------------------------------------


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


@WITHOUT_A_BROKER
def test_refit_now_without_a_broker_runs_the_tick_here(cohort, nurse_a):
    data_changed(reason="test")
    run, outcome = services.model_run_request_now(by=nurse_a, trigger="Refit now")
    assert (outcome, run.status, run.changes_included) == ("done", RunStatus.SUCCEEDED, 1)
    assert _pending() == 0


@WITHOUT_A_BROKER
def test_refit_now_without_a_broker_says_queued_when_the_tick_itself_breaks(
        cohort, nurse_a, monkeypatch):
    # The run has committed; a tick that breaks after it (here: the database going away)
    # must not turn the request into an error page that hides the queued run.
    def broken_tick():
        raise OperationalError("server closed the connection unexpectedly")

    data_changed(reason="test")
    monkeypatch.setattr(services, "refit_tick", broken_tick)
    run, outcome = services.model_run_request_now(by=nurse_a, trigger="Refit now")
    assert (outcome, ModelRun.objects.get(pk=run.pk).status) == ("queued", RunStatus.QUEUED)
    monkeypatch.undo()
    assert services.refit_tick() == [run.pk]             # the next tick takes it up


@WITH_A_WORKER
def test_refit_now_with_the_broker_down_queues_the_run_for_the_next_tick(cohort, nurse_a):
    _succeeded_run()
    _change_age(cohort[0], nurse_a, 77)
    with broker(CLOSED_PORT_BROKER):
        run, outcome = services.model_run_request_now(by=nurse_a, trigger="Refit now")
    assert (outcome, ModelRun.objects.get(pk=run.pk).status) == ("queued", RunStatus.QUEUED)
    assert services.refit_tick() == [run.pk]
    assert ModelRun.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED


def test_refit_now_on_unchanged_data_queues_nothing(cohort, nurse_a):
    last = _succeeded_run()
    run, outcome = services.model_run_request_now(by=nurse_a, trigger="Refit now")
    assert (run.pk, outcome) == (last.pk, "unchanged")
    assert ModelRun.objects.count() == 1


# --- concurrent entry on SQLite ----------------------------------------------------------


def test_on_sqlite_questionnaires_saved_while_a_refit_runs_all_succeed(tmp_path):
    """The embedded default's file database (WAL, IMMEDIATE, busy timeout) in a process of
    its own: the test database is in memory, whose shared cache locks differently."""
    script = settings.BASE_DIR / "analysis" / "tests" / "concurrent_entry.py"
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "entry.sqlite3")], cwd=settings.BASE_DIR,
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    assert report["saved"] == report["attempted"] >= 20
    assert report["saved_while_running"] >= 1  # the saves did overlap the fit
    assert report["run_status"] == RunStatus.SUCCEEDED
