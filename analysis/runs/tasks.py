"""Celery tasks of the analysis engine: thin (the services do the work), safe to repeat.

The time limits have one source, the settings. acks_late and reject_on_worker_lost
(config/settings/base.py) redeliver a tick whose worker died; the run it left behind is
taken over by a later tick once its heartbeat is stale.
"""
from celery import shared_task
from django.conf import settings

from .services import refit_tick


@shared_task(name="analysis.refit_tick", acks_late=True, ignore_result=True,
             soft_time_limit=settings.ANALYSIS_REFIT_SOFT_TIME_LIMIT,
             time_limit=settings.ANALYSIS_REFIT_TIME_LIMIT)
def refit_tick_task() -> None:
    """Take the pending data changes, fit them if the data changed, run queued runs."""
    refit_tick()
