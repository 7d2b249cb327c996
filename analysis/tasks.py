"""Celery tasks of the analysis engine: thin, id-based, time-limited, safe to repeat."""
from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from .services import model_run_execute, refit_process, refit_sweep

SOFT_TIME_LIMIT = getattr(settings, "ANALYSIS_REFIT_SOFT_TIME_LIMIT", 540)
TIME_LIMIT = getattr(settings, "ANALYSIS_REFIT_TIME_LIMIT", 600)


@shared_task(name="analysis.refit_pending", acks_late=True, ignore_result=True,
             soft_time_limit=SOFT_TIME_LIMIT, time_limit=TIME_LIMIT)
def refit_pending() -> None:
    """Take the pending data changes and fit them (nothing if the data is unchanged)."""
    refit_process()


@shared_task(name="analysis.refit_run", acks_late=True, ignore_result=True,
             soft_time_limit=SOFT_TIME_LIMIT, time_limit=TIME_LIMIT)
def refit_run(run_id: int) -> None:
    """Execute one queued run; a repeat (or a run claimed elsewhere) does nothing."""
    model_run_execute(run_id=run_id)


@shared_task(name="analysis.refit_sweep", acks_late=True, ignore_result=True,
             soft_time_limit=60, time_limit=90)
def refit_sweep_task() -> None:
    """Re-send what a down broker or a dead worker left behind (beat, worker start)."""
    refit_sweep()


@worker_ready.connect
def _sweep_when_worker_starts(sender=None, **kwargs) -> None:
    # Sent, not run here: the worker's main process should not hold a database
    # connection that its pool children would inherit.
    refit_sweep_task.apply_async(retry=False)
