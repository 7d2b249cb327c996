"""Reads of the analysis engine: the run to show, the run in progress, pending changes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Min, Q, Sum

from ..models import ModelRun, RefitRequest, RunStatus


def latest_successful_run(*, population: str | None = None) -> ModelRun | None:
    """The run the dashboard shows: the last one that succeeded (optionally by population)."""
    runs = ModelRun.objects.filter(status=RunStatus.SUCCEEDED)
    if population is not None:
        runs = runs.filter(options__population=population)
    return runs.order_by("-finished_at", "-id").first()


def run_in_progress() -> ModelRun | None:
    """The oldest run queued or running, if any (the last success stays shown meanwhile)."""
    return (ModelRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
            .order_by("created_at", "id").first())


@dataclass(frozen=True)
class ChangesSinceFit:
    """Data changes not yet reflected in the latest successful run."""

    count: int              # changes waiting plus those in queued/running/failed runs since
    waiting_since: datetime | None
    last_change_at: datetime | None
    last_fit_at: datetime | None
    in_progress: ModelRun | None

    @property
    def any(self) -> bool:
        return self.count > 0


def changes_since_last_fit() -> ChangesSinceFit:
    """How many changes the dashboard's run does not include, and whether a refit runs."""
    pending = Q(taken_at__isnull=True)
    outbox = RefitRequest.objects.aggregate(
        count=Count("pk", filter=pending), since=Min("created_at", filter=pending),
        last=Max("created_at"))
    last = latest_successful_run()
    later = ModelRun.objects.exclude(status=RunStatus.SUCCEEDED)
    if last is not None:
        later = later.filter(created_at__gt=last.created_at)
    in_runs = later.aggregate(total=Sum("changes_included"))["total"] or 0
    return ChangesSinceFit(
        count=outbox["count"] + in_runs, waiting_since=outbox["since"],
        last_change_at=outbox["last"], last_fit_at=last.finished_at if last else None,
        in_progress=run_in_progress())
