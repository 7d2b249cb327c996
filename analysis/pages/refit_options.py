""""Refit now" with options (estimation method, population): issue 19 item 5.

dashboard.refit_now queues the default analysis; this queues the options a researcher
chose, through the same engine service (analysis.runs.services.model_run_request), and
words the outcome with the dashboard's messages so that both read alike.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from ..runs.services import model_run_request, runs_eagerly
from ..stats.results import DEFAULT_OPTIONS, POPULATIONS
from .dashboard import REFIT_NOW_MESSAGES

TRIGGER = "Refit now (dashboard)"


def options_text(options: Mapping[str, Any]) -> str:
    """"REML; Completers with both rows complete (...)" for a message or a report."""
    method = "REML" if options.get("reml") else "ML"
    population = options.get("population", DEFAULT_OPTIONS["population"])
    return f"{method}; {POPULATIONS.get(population, population)}"


def refit_with_options(*, by: AbstractBaseUser | None, options: Mapping[str, Any]) -> str:
    """Queue a run with these options (fit it here without a broker); the message to show.

    Unchanged data with unchanged options queue nothing: the options are part of the
    data fingerprint, so choosing REML after an ML run does fit again.
    """
    run, created = model_run_request(options=options, by=by, trigger=TRIGGER)
    if not created:
        outcome = "unchanged"
    elif not runs_eagerly():
        outcome = "queued"
    else:
        from ..runs.tasks import refit_tick_task

        refit_tick_task.apply()  # in this process, as CELERY_TASK_ALWAYS_EAGER would
        outcome = "done"
    message = REFIT_NOW_MESSAGES[outcome].format(run=run.pk)
    if dict(options) != DEFAULT_OPTIONS:
        message += f" Options: {options_text(options)}."
    return message
