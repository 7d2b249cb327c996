"""A real Celery worker (with beat, ticking every second) against Redis and PostgreSQL: a
data change becomes a stored run, and a run whose worker is killed mid-run is taken over
by the next worker's tick, not left "running" for ever.

Skipped without PostgreSQL and Redis unless PAINCOHORT_REQUIRE_SERVICES=1 (CI).
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from analysis.models import ModelRun, RefitRequest, RunStatus
from analysis.runs import services
from analysis.tests.brokers import redis_url_or_skip
from analysis.tests.factories import build_cohort
from patients.services import patient_update
from tests.services import require_postgresql

pytestmark = [pytest.mark.integration]
WAIT_SECONDS = 90
WORKER_DB = 14  # a Redis database of these tests' own: no other consumer, no stale tasks


@pytest.fixture
def services_available(transactional_db):
    require_postgresql("needs PostgreSQL (DATABASE_URL)")
    url = redis_url_or_skip(db=WORKER_DB)
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """`celery -A config worker --beat --pool=solo` on the test database, ticking every
    second, logging to a file."""

    def __init__(self, broker_url: str):
        self.log = Path(tempfile.mkstemp(prefix="h4-worker-", suffix=".log")[1])
        self.schedule = self.log.with_suffix(".beat")
        env = {**os.environ, "DATABASE_URL": _database_url(), "CELERY_BROKER_URL": broker_url,
               "DJANGO_SETTINGS_MODULE": "config.settings.test",
               "ANALYSIS_REFIT_INTERVAL_SECONDS": "1"}
        env.pop("TEST_DATABASE_NAME", None)
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
                   "--beat", "--schedule", str(self.schedule),
                   "--without-gossip", "--without-mingle", "--without-heartbeat",
                   "-n", f"h4-{uuid.uuid4().hex[:8]}@%h", "-l", "INFO"]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env,
                                            stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text()[-4000:]


@pytest.fixture
def start_worker(services_available):
    workers: list[Worker] = []

    def start() -> Worker:
        worker = Worker(services_available)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.kill()
        worker.log.unlink(missing_ok=True)
        for path in worker.schedule.parent.glob(worker.schedule.name + "*"):
            path.unlink(missing_ok=True)


def _wait_for(condition, worker: Worker, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited while waiting for {what}:\n{worker.output()}")
        time.sleep(0.05)
    pytest.fail(f"no {what} within {WAIT_SECONDS} s; worker log:\n{worker.output()}")


def test_a_data_change_is_refitted_by_a_real_worker(services_available, start_worker,
                                                    clinic_a, nurse_a):
    patients = build_cohort(seed=2, sizes={"A": 20, "B": 20, "C": 15})
    patient = patients[0]
    patient.refresh_from_db()
    patient_update(patient=patient, by=nurse_a, reason="typo", age=patient.age + 1)
    worker = start_worker()  # beat's next tick takes the change
    run = _wait_for(lambda: ModelRun.objects.filter(status__in=[RunStatus.SUCCEEDED,
                                                                RunStatus.FAILED]).first(),
                    worker, "finished model run")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.changes_included == 1
    assert run.results["counts"]["patients"] == 55
    assert not RefitRequest.objects.filter(taken_at__isnull=True).exists()


def test_a_run_whose_worker_is_killed_mid_run_is_retried_not_left_running(
        services_available, start_worker, clinic_a):
    build_cohort(seed=4, sizes={"A": 150, "B": 200, "C": 120})
    run, _ = services.model_run_request(trigger="kill test")
    first = start_worker()  # its first tick claims the queued run
    _wait_for(lambda: ModelRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).exists(),
              first, "running run")
    first.kill(signal.SIGKILL)
    run.refresh_from_db()
    if run.status != RunStatus.RUNNING:
        pytest.skip(f"the run ended ({run.status}) before the worker could be killed")
    # ANALYSIS_REFIT_STALE_SECONDS pass without a sign of life (backdated here rather than
    # waited for): the next worker's tick takes the run over and runs it again.
    long_ago = run.heartbeat_at - services.stale_after() - dt.timedelta(seconds=1)
    ModelRun.objects.filter(pk=run.pk).update(heartbeat_at=long_ago)
    second = start_worker()
    _wait_for(lambda: ModelRun.objects.filter(pk=run.pk, status=RunStatus.SUCCEEDED).exists(),
              second, "retried run")
    run.refresh_from_db()
    assert run.attempts == 2
