"""Writes of the analysis engine: the refit outbox, model runs and their execution.

How a data change becomes a model run:
1. Inside the data change's transaction, `refit_record_change` adds one to the outbox
   row (RefitState): the request commits or rolls back with the data itself, so it is
   never lost, whatever happens to the broker afterwards.
2. After the commit, `refit_dispatch_pending` sends one `refit_pending` task with a
   countdown (the coalescing window), unless one was sent recently: `dispatched_at`
   is set by a conditional UPDATE, so of a burst of commits only one sends. If the
   broker is down the send fails fast (no retries, 0.5 s connection timeout), the
   marker is cleared and the changes stay pending until the next change, the periodic
   sweep or a starting worker dispatches them.
3. The task (`refit_process`) takes the pending changes (one locked row), loads the
   cohort, and creates a queued run unless the data fingerprint equals that of the last
   successful run (or of a run already queued): then nothing runs. It then executes
   queued runs. Since the task takes the changes when it runs, not when it is sent,
   changes are coalesced into runs at least one window apart: with a 30 s window a
   minute of data entry causes at most two runs.
4. A run is claimed by an atomic UPDATE (queued, or running with a heartbeat older than
   the hard time limit), carries an attempt number as a fencing token, and ends as
   succeeded or failed (with its error). A run left "running" by a killed worker is
   re-queued by the sweep, and failed after MAX_ATTEMPTS.
"""
from __future__ import annotations

import datetime as dt
import logging
import platform
import threading
import time
import traceback
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connections, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from questionnaires.instruments import SCORING_VERSION

from . import descriptives, regression
from .cohort import ANALYSIS_VERSION, fingerprint, load_cohort, patients_wide
from .models import ModelRun, RefitState, RunStatus
from .results import DEFAULT_OPTIONS, LEGACY_POPULATIONS, POPULATIONS, SCHEMA_VERSION

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
STATE_PK = 1


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def coalesce_seconds() -> float:
    return float(_setting("ANALYSIS_REFIT_COALESCE_SECONDS", 30))


def hard_time_limit() -> int:
    return int(_setting("ANALYSIS_REFIT_TIME_LIMIT", 600))


def soft_time_limit() -> int:
    return int(_setting("ANALYSIS_REFIT_SOFT_TIME_LIMIT", 540))


def stale_after() -> dt.timedelta:
    """A running run whose heartbeat is older than the hard time limit has no worker."""
    return dt.timedelta(seconds=hard_time_limit() + 30)


def redispatch_after() -> dt.timedelta:
    """A task sent this long ago without taking the changes is presumed lost."""
    return dt.timedelta(seconds=coalesce_seconds() + hard_time_limit())


def uses_broker() -> bool:
    return not settings.CELERY_TASK_ALWAYS_EAGER


# --- options ---------------------------------------------------------------------------


def normalise_options(options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Options with defaults filled in; an unknown option or value is refused by name."""
    merged = {**DEFAULT_OPTIONS, **(options or {})}
    # a value stored or scripted by an earlier version means the population it computed
    merged["population"] = LEGACY_POPULATIONS.get(merged["population"], merged["population"])
    unknown = set(merged) - set(DEFAULT_OPTIONS)
    if unknown:
        raise ValidationError({"options": f"Unknown option(s): {', '.join(sorted(unknown))}."})
    if merged["population"] not in POPULATIONS:
        raise ValidationError({"population": f"Unknown analysis population "
                                             f"'{merged['population']}'; choose one of "
                                             f"{', '.join(POPULATIONS)}."})
    merged["reml"] = bool(merged["reml"])
    return merged


# --- the outbox ------------------------------------------------------------------------


def refit_record_change(*, reason: str) -> None:
    """Count one change to clinical data, in the caller's transaction (the outbox)."""
    now = timezone.now()
    values = {"pending_changes": F("pending_changes") + 1, "last_change_at": now,
              "last_reason": reason[:200], "requested_at": Coalesce("requested_at", now)}
    if not RefitState.objects.filter(pk=STATE_PK).update(**values):
        with transaction.atomic():
            RefitState.objects.get_or_create(pk=STATE_PK)
        RefitState.objects.filter(pk=STATE_PK).update(**values)


def refit_dispatch_pending() -> str:
    """After a commit: have the pending changes refitted, without waiting for the fit.

    Returns what happened: "nothing_pending", "already_sent", "sent", "broker_down",
    or, without a broker, "in_process" / "deferred".
    """
    if not uses_broker():
        return _run_in_process()
    now = timezone.now()
    not_on_its_way = Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - redispatch_after())
    claimed = (RefitState.objects.filter(not_on_its_way, pk=STATE_PK, pending_changes__gt=0)
               .update(dispatched_at=now))
    if not claimed:
        pending = RefitState.objects.filter(pk=STATE_PK, pending_changes__gt=0).exists()
        return "already_sent" if pending else "nothing_pending"
    from .tasks import refit_pending

    if _send(refit_pending, countdown=coalesce_seconds()):
        RefitState.objects.filter(pk=STATE_PK).update(last_dispatch_error="")
        return "sent"
    RefitState.objects.filter(pk=STATE_PK, dispatched_at=now).update(
        dispatched_at=None, last_dispatch_error=f"{timezone.now():%Y-%m-%d %H:%M:%S} "
                                                "broker unreachable")
    return "broker_down"


_send_lock = threading.Lock()
_send_in_flight: threading.Thread | None = None


def _send(task, *args: Any, countdown: float = 0) -> bool:
    """Send a task; False (logged, never raised) when the broker cannot be reached.

    A closed port or an unreachable host fails within the connection timeout, but a
    broker that accepts the connection and then never answers would block the publish
    for ever: the publish runs in a helper thread that is given SEND_TIMEOUT seconds.
    While one such send hangs, later sends fail at once instead of piling up threads.
    """
    global _send_in_flight
    outcome: list[BaseException | None] = []

    def publish() -> None:
        try:
            task.apply_async(args=args, countdown=countdown or None, retry=False)
            outcome.append(None)
        except BaseException as exc:  # reported by the caller below
            outcome.append(exc)

    with _send_lock:
        if _send_in_flight is not None and _send_in_flight.is_alive():
            logger.warning("A send to the broker still hangs; %s stays pending.", task.name)
            return False
        _send_in_flight = threading.Thread(target=publish, name="broker-send", daemon=True)
        _send_in_flight.start()
    _send_in_flight.join(float(_setting("ANALYSIS_REFIT_SEND_TIMEOUT", 0.5)))
    if not outcome:
        logger.warning("The broker did not answer; %s stays pending.", task.name)
        return False
    if outcome[0] is not None:  # the broker's errors vary by transport; data entry goes on
        logger.warning("Could not send %s to the broker; it stays pending.", task.name,
                       exc_info=outcome[0])
        return False
    return True


# Without a broker (the embedded default) the fit runs in this process. "thread": in one
# background thread after a short delay, so that data entry is not slowed and a burst is
# coalesced; "inline": right after the commit (deterministic); "off": only the outbox
# is kept, and `manage.py refit` or the next sweep fits.
_thread_lock = threading.Lock()
_thread: threading.Thread | None = None


def _run_in_process() -> str:
    mode = _setting("ANALYSIS_REFIT_IN_PROCESS", "thread")
    if mode == "inline":
        refit_process()
        return "in_process"
    if mode == "thread":
        _start_background_refit()
        return "in_process"
    return "deferred"


def _start_background_refit() -> None:
    global _thread
    with _thread_lock:
        if _thread is not None and _thread.is_alive():
            return
        # Not a daemon: a short-lived process (seed_demo, import_cohort) finishes the fit
        # before it exits instead of leaving the run "running".
        _thread = threading.Thread(target=_background_refit, name="refit", daemon=False)
        _thread.start()


def _background_refit() -> None:
    try:
        while True:
            time.sleep(float(_setting("ANALYSIS_REFIT_THREAD_DELAY", 5)))
            close_old_connections()
            refit_process()
            if not RefitState.objects.filter(pk=STATE_PK, pending_changes__gt=0).exists():
                return
    except Exception:
        logger.exception("Background refit failed")
    finally:
        connections.close_all()


# --- taking the pending changes ----------------------------------------------------------


@transaction.atomic
def refit_take_pending(*, options: Mapping[str, Any] | None = None) -> ModelRun | None:
    """Turn the pending changes into a queued run, or into nothing if the data is unchanged."""
    state = RefitState.objects.select_for_update().filter(pk=STATE_PK).first()
    if state is None or state.pending_changes == 0:
        return None
    options = normalise_options(options)
    data_fingerprint = fingerprint(load_cohort(), options)
    changes, reason = state.pending_changes, state.last_reason
    RefitState.objects.filter(pk=STATE_PK).update(
        pending_changes=0, requested_at=None, dispatched_at=None,
        last_checked_at=timezone.now())
    if _fingerprint_known(data_fingerprint):
        return None
    return ModelRun.objects.create(
        trigger=f"{changes} data change(s), last: {reason}"[:200], changes_included=changes,
        options=options, fingerprint=data_fingerprint)


def _fingerprint_known(data_fingerprint: str) -> bool:
    """Equal to the last successful run's, or to a run already waiting or running."""
    last = (ModelRun.objects.filter(status=RunStatus.SUCCEEDED)
            .order_by("-finished_at", "-id").values_list("fingerprint", flat=True).first())
    if last == data_fingerprint:
        return True
    return ModelRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING],
                                   fingerprint=data_fingerprint).exists()


@transaction.atomic
def model_run_request(*, options: Mapping[str, Any] | None = None,
                      by: AbstractBaseUser | None = None, trigger: str = "requested",
                      force: bool = False) -> tuple[ModelRun, bool]:
    """Queue a run now (taking any pending changes with it).

    Returns (run, created). Unless forced, when the data and options equal the last
    successful run's, that run is returned and nothing is queued.
    """
    options = normalise_options(options)
    data_fingerprint = fingerprint(load_cohort(), options)
    state = RefitState.objects.select_for_update().filter(pk=STATE_PK).first()
    changes = state.pending_changes if state else 0
    if not force:
        last = (ModelRun.objects.filter(status=RunStatus.SUCCEEDED)
                .order_by("-finished_at", "-id").first())
        if last is not None and last.fingerprint == data_fingerprint:
            return last, False
    if state is not None:
        RefitState.objects.filter(pk=STATE_PK).update(
            pending_changes=0, requested_at=None, dispatched_at=None,
            last_checked_at=timezone.now())
    run = ModelRun(trigger=trigger[:200], changes_included=changes, options=options,
                   fingerprint=data_fingerprint, requested_by=by)
    run.full_clean()
    run.save()
    return run, True


def model_run_request_now(*, by: AbstractBaseUser | None, trigger: str
                          ) -> tuple[ModelRun, str]:
    """Queue a run at a person's request and start it; never waits for the fit.

    Returns (run, outcome): "unchanged" (the last successful run already covers the data),
    "in_process" (no broker: runs in this process), "sent", or "broker_down" (the run stays
    queued and the sweep sends it once the broker is back).
    """
    run, created = model_run_request(by=by, trigger=trigger)
    if not created:
        return run, "unchanged"
    if not uses_broker():
        _run_in_process()
        return run, "in_process"
    from .tasks import refit_run

    return run, "sent" if _send(refit_run, run.pk) else "broker_down"


# --- executing a run ---------------------------------------------------------------------


def model_run_claim(*, run_id: int) -> int | None:
    """Claim a run for this worker; the attempt number, or None if someone else has it."""
    now = timezone.now()
    claimable = Q(status=RunStatus.QUEUED) | Q(status=RunStatus.RUNNING,
                                                heartbeat_at__lt=now - stale_after())
    claimed = (ModelRun.objects.filter(claimable, pk=run_id, attempts__lt=MAX_ATTEMPTS)
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
    mine = ModelRun.objects.filter(pk=run_id, status=RunStatus.RUNNING, attempts=attempt)
    run = ModelRun.objects.get(pk=run_id)
    try:
        results, timings = compute_results(
            options=run.options, heartbeat=lambda: mine.update(heartbeat_at=timezone.now()))
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
        return f"Stopped at the time limit ({soft_time_limit()} s)."
    lines = traceback.format_exception(exc)
    return f"{type(exc).__name__}: {exc}\n\n{''.join(lines[-6:])}"[:5000]


def compute_results(*, options: Mapping[str, Any], heartbeat=None
                    ) -> tuple[dict[str, Any], dict[str, float]]:
    """Load the cohort (one query) and compute every table: (results JSON, timings)."""
    options = normalise_options(options)
    beat = heartbeat or (lambda: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    cohort = load_cohort()
    patients = patients_wide(cohort)
    timings["load"] = time.perf_counter() - started
    population = options["population"]
    results: dict[str, Any] = {
        "schema": SCHEMA_VERSION, "options": options, "scoring_version": SCORING_VERSION,
        "fingerprint": fingerprint(cohort, options), "counts": _counts(cohort, patients)}
    # One model frame and row selection for every model; Table 1 and the change from
    # baseline describe the patients the models analyse.
    step_started = time.perf_counter()
    selection = regression.selection_for(cohort, patients, population=population)
    analysed = patients.loc[patients["study_id"].isin(selection.patients())]
    timings["selection"] = time.perf_counter() - step_started
    steps = [
        ("table1", lambda: descriptives.table1(analysed, population=population)),
        ("table2", lambda: regression.table2(cohort, patients, population=population,
                                             reml=options["reml"], progress=beat,
                                             selection=selection)),
        ("change", lambda: descriptives.change_from_baseline(analysed)),
        ("attrition", lambda: descriptives.attrition(patients)),
    ]
    for name, step in steps:
        step_started = time.perf_counter()
        results[name] = step()
        timings[name] = time.perf_counter() - step_started
        beat()
    results["warnings"] = _warnings(results)
    timings["total"] = time.perf_counter() - started
    return results, {k: round(v, 4) for k, v in timings.items()}


def _counts(cohort, patients) -> dict[str, int]:
    both = patients["has_baseline"] & patients["has_followup"]
    return {"administrations": int(len(cohort)), "patients": int(len(patients)),
            "clinics": int(cohort["clinic"].nunique()), "completers": int(both.sum()),
            "baseline_only": int((patients["has_baseline"] & ~patients["has_followup"]).sum())}


def _warnings(results: Mapping[str, Any]) -> list[str]:
    warnings = []
    if results["counts"]["patients"] == 0:
        warnings.append("No complete administrations to analyse.")
    labels = {o["key"]: o["label"] for o in results["table2"]["outcomes"]}
    variants = {v["key"]: v["label"] for v in results["table2"]["variants"]}
    for model in results["table2"]["models"]:
        where = f"{labels[model['outcome']]}, {variants[model['variant']]}"
        if model["error"]:
            warnings.append(f"{where}: not fitted: {model['error']}")
        warnings.extend(f"{where}: {text}" for text in model["warnings"])
    return warnings


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "scoring": SCORING_VERSION,
                "analysis": ANALYSIS_VERSION}
    for package in ("numpy", "pandas", "scipy", "statsmodels", "django", "celery"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = ""
    return versions


# --- recovery ----------------------------------------------------------------------------


def model_runs_requeue_stale() -> list[int]:
    """Runs left "running" by a dead worker: queued again, or failed after MAX_ATTEMPTS."""
    stale = Q(status=RunStatus.RUNNING, heartbeat_at__lt=timezone.now() - stale_after())
    ids = list(ModelRun.objects.filter(stale).values_list("pk", flat=True))
    requeued = []
    for run_id in ids:
        if ModelRun.objects.filter(stale, pk=run_id, attempts__lt=MAX_ATTEMPTS).update(
                status=RunStatus.QUEUED):
            requeued.append(run_id)
        else:
            ModelRun.objects.filter(stale, pk=run_id).update(
                status=RunStatus.FAILED, finished_at=timezone.now(),
                error=f"No sign of life for longer than the hard time limit "
                      f"({hard_time_limit()} s) in {MAX_ATTEMPTS} attempts: the worker was "
                      "lost (killed, out of memory) or the run exceeded the time limit.")
    return requeued


def refit_process() -> list[int]:
    """The refit task's body: recover, take pending changes, execute queued runs."""
    model_runs_requeue_stale()
    refit_take_pending()
    executed = []
    for _ in range(5):  # bounded: a run claimed elsewhere is skipped, not waited for
        run_id = (ModelRun.objects.filter(status=RunStatus.QUEUED).exclude(pk__in=executed)
                  .order_by("created_at", "id").values_list("pk", flat=True).first())
        if run_id is None:
            break
        executed.append(run_id)
        model_run_execute(run_id=run_id)
    return executed


def refit_sweep() -> dict[str, Any]:
    """Periodic and on worker start: re-send what a down broker or a dead worker left."""
    if not uses_broker():
        return {"executed": refit_process()}
    from .tasks import refit_run

    requeued = model_runs_requeue_stale()
    waiting = ModelRun.objects.filter(
        status=RunStatus.QUEUED, created_at__lt=timezone.now() - dt.timedelta(seconds=60))
    to_send = sorted(set(requeued) | set(waiting.values_list("pk", flat=True)))
    sent = [run_id for run_id in to_send if _send(refit_run, run_id)]
    return {"requeued": requeued, "sent_runs": sent, "pending": refit_dispatch_pending()}
