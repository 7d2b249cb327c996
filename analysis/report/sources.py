"""What a model run's report is built from: its results, provenance and versions, and
the interviewees of Table 3 as recorded now (interviews are not part of a run)."""
from __future__ import annotations

from django.utils import timezone

from ..interviews.classify import Table3Row, thresholds
from ..interviews.completers import completer_data
from ..interviews.constants import DEFAULT_SD_FRACTION
from ..models import InterviewContact, InterviewStatus, ModelRun
from ..selectors import study_target_get
from .builder import Report, build_report


def run_provenance(run: ModelRun) -> dict[str, str]:
    when = run.finished_at or run.created_at
    return {"label": f"model run {run.pk}",
            "date": timezone.localtime(when).strftime("%Y-%m-%d %H:%M") if when else "",
            "fingerprint": run.fingerprint}


def interviewees(*, sd_fraction: float = DEFAULT_SD_FRACTION) -> list[Table3Row]:
    """Table 3's rows as the interview page shows them with its default rule."""
    data = completer_data()
    ids = set(InterviewContact.objects.filter(status=InterviewStatus.INTERVIEWED)
              .values_list("patient__study_id", flat=True))
    limits = thresholds(data.frame, sd_fraction=sd_fraction) if len(data.frame) else {}
    return data.rows(ids, limits)


def run_report(run: ModelRun) -> Report:
    """The report of a successful run, with Table 3 as recorded today and Table 2 under
    the study's headline inference (a setting read now, as the dashboard reads it)."""
    today = timezone.localdate().isoformat()
    return build_report(
        results=run.results or {}, provenance=run_provenance(run), versions=run.versions,
        headline_setting=study_target_get().headline_inference,
        table3=interviewees(),
        table3_note=f"Table 3 lists the interviews recorded on {today} (interview records "
                    "are not part of the model run); change categories: a change within "
                    f"{DEFAULT_SD_FRACTION:g} of the score's baseline SD among completers "
                    "is unchanged.")


def succeeded_run(run_id: int) -> ModelRun:
    """A successful run by id; 404 for any other (a failed or running run has no tables)."""
    from django.shortcuts import get_object_or_404

    from ..models import RunStatus

    return get_object_or_404(ModelRun.objects.filter(status=RunStatus.SUCCEEDED), pk=run_id)


def latest_report_run() -> ModelRun | None:
    """The dashboard's run (the last successful one), without its results: for a link."""
    from ..models import RunStatus

    return (ModelRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-finished_at", "-id")
            .only("pk", "finished_at").first())
