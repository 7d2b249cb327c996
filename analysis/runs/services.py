"""Writes of the analysis engine: the refit outbox and model runs.

How a data change becomes a model run:
1. Inside the data change's transaction, `core.signals.data_changed` reaches
   `refit_mark`, which inserts one RefitRequest row: the mark commits or rolls back with
   the data, and concurrent saves never wait on each other (insert-only, no shared row).
   Data entry never touches the broker.
2. Every ANALYSIS_REFIT_INTERVAL_SECONDS, Celery beat sends the `refit_tick` task, whose
   body is `refit_tick` below. It claims the pending requests with one conditional
   UPDATE (nothing updated: another worker got there first) and queues a run unless the
   data fingerprint equals that of the last successful run or of a run already waiting.
   A burst of changes between two ticks becomes at most one run.
3. The tick then executes queued runs, and runs whose worker died (running, heartbeat
   older than ANALYSIS_REFIT_STALE_SECONDS). A run is claimed by an atomic UPDATE that
   adds one to its attempt number, the fencing token: a zombie worker's late writes
   match no row. After MAX_ATTEMPTS a run whose workers keep dying fails with the reason.
"Refit now" and `manage.py refit` queue a run; without a broker (the embedded default,
CELERY_TASK_ALWAYS_EAGER) the tick's body then runs in the same process. (tasks.py imports
this module, never the other way round.)
"""
from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from ..models import ModelRun, RefitRequest, RunStatus
from .compute import compute_results, data_fingerprint, library_versions, normalise_options

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RUNS_PER_TICK = 5  # bounded: a tick never keeps its worker for ever
KEEP_TAKEN_REQUESTS = dt.timedelta(days=7)


def stale_after() -> dt.timedelta:
    """A running run without a heartbeat for this long has lost its worker."""
    return dt.timedelta(seconds=settings.ANALYSIS_REFIT_STALE_SECONDS)


def runs_eagerly() -> bool:
    """No broker (the embedded default): tasks run in the calling process."""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)


# --- the outbox ------------------------------------------------------------------------


def refit_mark(*, reason: str) -> None:
    """Record one change to clinical data, in the caller's transaction (one INSERT)."""
    RefitRequest.objects.create(reason=reason[:200])


def _newest_pending() -> tuple[int, str] | None:
    """(pk, reason) of the newest request not yet taken."""
    return (RefitRequest.objects.filter(taken_at__isnull=True).order_by("-pk")
            .values_list("pk", "reason").first())


def _take_pending(up_to_pk: int) -> int:
    """Claim the pending requests up to `up_to_pk`: how many this caller took."""
    return (RefitRequest.objects.filter(taken_at__isnull=True, pk__lte=up_to_pk)
            .update(taken_at=timezone.now()))


def refit_take_pending(*, options: Mapping[str, Any] | None = None) -> ModelRun | None:
    """Turn the pending changes into a queued run, or into nothing if the data is unchanged.

    The newest pending request is read before the data, so the fingerprint covers every
    change claimed with it; later changes stay pending for the next tick. The data is
    read outside the claiming transaction, which stays short.
    """
    newest = _newest_pending()
    if newest is None:
        return None
    options = normalise_options(options)
    fingerprint = data_fingerprint(options)
    with transaction.atomic():
        changes = _take_pending(newest[0])
        if not changes or _fingerprint_known(fingerprint):
            return None
        return ModelRun.objects.create(
            trigger=f"{changes} data change(s), last: {newest[1]}"[:200],
            changes_included=changes, options=options, fingerprint=fingerprint)


def _last_success() -> ModelRun | None:
    return (ModelRun.objects.filter(status=RunStatus.SUCCEEDED)
            .order_by("-finished_at", "-id").first())


def _fingerprint_known(fingerprint: str) -> bool:
    """Equal to the last successful run's, or to a run already waiting or running."""
    last = _last_success()
    if last is not None and last.fingerprint == fingerprint:
        return True
    return ModelRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING],
                                   fingerprint=fingerprint).exists()


def refit_requests_prune() -> int:
    """Delete requests taken more than a week ago (their runs record how many there were)."""
    deleted, _ = RefitRequest.objects.filter(
        taken_at__lt=timezone.now() - KEEP_TAKEN_REQUESTS).delete()
    return deleted


# --- queueing a run ----------------------------------------------------------------------


def model_run_request(*, options: Mapping[str, Any] | None = None,
                      by: AbstractBaseUser | None = None, trigger: str = "requested",
                      force: bool = False) -> tuple[ModelRun, bool]:
    """Queue a run now, taking the pending changes with it.

    Returns (run, created). Unless forced, when the data and options equal the last
    successful run's, that run is returned and nothing is queued.
    """
    options = normalise_options(options)
    newest = _newest_pending()
    fingerprint = data_fingerprint(options)
    last = _last_success()
    if not force and last is not None and last.fingerprint == fingerprint:
        return last, False
    with transaction.atomic():
        changes = _take_pending(newest[0]) if newest else 0
        run = ModelRun(trigger=trigger[:200], changes_included=changes, options=options,
                       fingerprint=fingerprint, requested_by=by)
        run.full_clean()
        run.save()
    return run, True


def model_run_request_now(*, by: AbstractBaseUser | None, trigger: str
                          ) -> tuple[ModelRun, str]:
    """Queue a run at a person's request; never touches the broker.

    Returns (run, outcome): "unchanged" (the last successful run already covers the data),
    "done" (no broker: the tick ran here, the run has ended) or "queued" (the next tick,
    within ANALYSIS_REFIT_INTERVAL_SECONDS, starts it on a worker; without a broker, the
    tick here did not end it, and the next one takes it up). Never raises once the run is
    queued: the tick's own failure is logged.
    """
    run, created = model_run_request(by=by, trigger=trigger)
    if not created:
        return run, "unchanged"
    if not runs_eagerly():
        return run, "queued"
    # The tick's body, here in this process (what the task would run). The run has
    # committed: if the tick itself breaks (a failing fit is recorded on the run, so this
    # is the database or the like), the caller still learns that the run is queued.
    try:
        refit_tick()
    except Exception:
        logger.exception("The refit tick after run %s was queued failed", run.pk)
    run.refresh_from_db()
    return run, "done" if run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED) else "queued"


# --- executing a run ---------------------------------------------------------------------


def _claimable(now: dt.datetime) -> Q:
    """Queued, or running without a sign of life (its worker died), with attempts left."""
    return (Q(status=RunStatus.QUEUED)
            | Q(status=RunStatus.RUNNING, heartbeat_at__lt=now - stale_after())) \
        & Q(attempts__lt=MAX_ATTEMPTS)


def model_run_claim(*, run_id: int) -> int | None:
    """Claim a run for this worker; the attempt number, or None if someone else has it."""
    now = timezone.now()
    claimed = (ModelRun.objects.filter(_claimable(now), pk=run_id)
               .update(status=RunStatus.RUNNING, started_at=now, heartbeat_at=now,
                       attempts=F("attempts") + 1, error=""))
    if not claimed:
        return None
    return ModelRun.objects.values_list("attempts", flat=True).get(pk=run_id)


def model_run_execute(*, run_id: int) -> ModelRun | None:
    """Execute a run if it can be claimed (a repeat is harmless); return it when done."""
    attempt = model_run_claim(run_id=run_id)
    if attempt is None:
        return None
    # every write below is fenced by the attempt: a worker taken over writes nothing
    mine = ModelRun.objects.filter(pk=run_id, status=RunStatus.RUNNING, attempts=attempt)
    run = ModelRun.objects.get(pk=run_id)
    try:
        # the fingerprint taken when the run was queued: no second read of the cohort
        results, timings = compute_results(
            options=run.options, heartbeat=lambda: mine.update(heartbeat_at=timezone.now()),
            fingerprint=run.fingerprint)
    except BaseException as exc:  # SoftTimeLimitExceeded too: the run fails, keeps why
        mine.update(status=RunStatus.FAILED, finished_at=timezone.now(),
                    error=_describe(exc), versions=library_versions())
        if not isinstance(exc, Exception):
            raise
        logger.exception("Model run %s failed", run_id)
    else:
        mine.update(status=RunStatus.SUCCEEDED, finished_at=timezone.now(),
                    fingerprint=results["fingerprint"], results=results,
                    warnings=results["warnings"], timings=timings,
                    versions=library_versions())
    return ModelRun.objects.get(pk=run_id)


def _describe(exc: BaseException) -> str:
    if type(exc).__name__ == "SoftTimeLimitExceeded":
        return f"Stopped at the time limit ({settings.ANALYSIS_REFIT_SOFT_TIME_LIMIT} s)."
    lines = traceback.format_exception(exc)
    return f"{type(exc).__name__}: {exc}\n\n{''.join(lines[-6:])}"[:5000]


def model_runs_fail_abandoned() -> int:
    """Runs whose workers died MAX_ATTEMPTS times: failed, with the reason (one UPDATE)."""
    return ModelRun.objects.filter(
        status=RunStatus.RUNNING, heartbeat_at__lt=timezone.now() - stale_after(),
        attempts__gte=MAX_ATTEMPTS,
    ).update(status=RunStatus.FAILED, finished_at=timezone.now(),
             error=f"No sign of life for {settings.ANALYSIS_REFIT_STALE_SECONDS} s in "
                   f"{MAX_ATTEMPTS} attempts: the worker was lost (killed, out of memory).")


# --- the tick ----------------------------------------------------------------------------


def refit_tick() -> list[int]:
    """The periodic task's body: take pending changes, execute what is waiting.

    Returns the ids of the runs this tick executed.
    """
    model_runs_fail_abandoned()
    refit_take_pending()
    executed: list[int] = []
    for _ in range(RUNS_PER_TICK):
        run_id = (ModelRun.objects.filter(_claimable(timezone.now()))
                  .exclude(pk__in=executed).order_by("created_at", "id")
                  .values_list("pk", flat=True).first())
        if run_id is None:
            break
        executed.append(run_id)
        model_run_execute(run_id=run_id)
    refit_requests_prune()
    return executed
