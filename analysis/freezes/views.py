"""Freeze pages (thin: parse, call, render).

- the data manager's page (CAN_MANAGE): freeze the cohort now, with a label;
- a freeze's files: the cohort CSV (CAN_DOWNLOAD), the codebook and the results JSON
  (CAN_ANALYSE: no patient-level data), each download logged;
- the dashboard's `?freeze=ID` (analysis.pages.views.dashboard_view calls
  `freeze_dashboard`): the freeze's tables in place of the live run's.
"""
from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from core.permissions import CAN_ANALYSE, CAN_DOWNLOAD, CAN_MANAGE, require, requires

from ..exports.log import export_log_start
from ..runs.selectors import run_in_progress
from .dashboard import freeze_dashboard_context
from .forms import FreezeForm
from .selectors import freeze_get, freezes_list
from .services import freeze_create

# file key -> (name pattern, content type); only the cohort CSV holds patient-level rows
FREEZE_FILES = {
    "cohort_csv": ("paincohort_freeze_{id}_cohort.csv", "text/csv; charset=utf-8"),
    "codebook_csv": ("paincohort_freeze_{id}_codebook.csv", "text/csv; charset=utf-8"),
    "results_json": ("paincohort_freeze_{id}_results.json", "application/json"),
}
FREEZE_DOCUMENTATION_FILES = frozenset({"codebook_csv", "results_json"})


@login_required
@require_http_methods(["GET", "POST"])
@requires(CAN_MANAGE)
def freeze_create_view(request: HttpRequest) -> HttpResponse:
    """Freeze the cohort now: the fit runs in this request (a few seconds), from its own
    snapshot, whether or not a refit is running."""
    form = FreezeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            freeze = freeze_create(label=form.cleaned_data["label"],
                                   by_name=request.user.get_username())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Frozen as freeze {freeze.pk} (\"{freeze.label}\", "
                                      f"{freeze.snapshot.row_count} rows, SHA-256 "
                                      f"{freeze.sha256}).")
            return redirect(f"{reverse('analysis:dashboard')}?freeze={freeze.pk}")
    return render(request, "analysis/freeze_create.html", {
        "form": form, "freezes": freezes_list(), "in_progress": run_in_progress()})


@login_required
@require_GET
@requires(CAN_ANALYSE)
def freeze_download(request: HttpRequest, freeze_id: int, file: str) -> HttpResponse:
    """One file of a freeze, as frozen; logged like every export."""
    if file not in FREEZE_FILES:
        raise Http404("No such file.")
    if file not in FREEZE_DOCUMENTATION_FILES:
        require(request.user, CAN_DOWNLOAD, message="Downloads of patient-level files are "
                "for statisticians and data managers.")
    freeze = freeze_get(freeze_id)
    name, content_type = FREEZE_FILES[file]
    filename = name.format(id=freeze.pk)
    if file == "cohort_csv":
        content, rows = bytes(freeze.snapshot.data), freeze.snapshot.row_count
    elif file == "codebook_csv":
        content, rows = bytes(freeze.codebook), None
    else:
        content, rows = json.dumps(freeze.results, indent=1).encode(), None
    export_log_start(user=request.user, file=filename, row_count=rows,
                     options={"freeze": freeze.pk, "sha256": freeze.sha256})
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def freeze_dashboard(request: HttpRequest, freeze_id: str, permissions: dict) -> HttpResponse:
    """The dashboard's `?freeze=ID`: the freeze's tables, labelled (the caller checked
    CAN_ANALYSE)."""
    context = freeze_dashboard_context(freeze=freeze_get(freeze_id),
                                       variant=request.GET.get("variant", ""))
    return render(request, "analysis/freeze_detail.html", {**context, **permissions})
