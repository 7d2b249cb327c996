"""The journal report of a model run: a Word document and a print-ready page.

Who: CAN_ANALYSE, like the dashboard whose numbers it holds (nurses get 403). Table 3
lists interviewees by study ID, so each report is logged as an export.
"""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.permissions import CAN_ANALYSE, requires

from ..exports.log import export_log_start
from ..report.docx import report_docx
from ..report.sources import run_report, succeeded_run

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _filename(run_id: int, extension: str) -> str:
    return f"paincohort_report_run{run_id}.{extension}"


@login_required
@require_GET
@requires(CAN_ANALYSE)
def report_html(request: HttpRequest, run_id: int) -> HttpResponse:
    """The report as a page to read or print (the browser's print makes the PDF)."""
    run = succeeded_run(run_id)
    report = run_report(run)
    export_log_start(user=request.user, file=_filename(run.pk, "html"),
                     options={"run": run.pk}, row_count=len(report.tables))
    response = render(request, "analysis/report_detail.html", {"report": report, "run": run})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
@requires(CAN_ANALYSE)
def report_word(request: HttpRequest, run_id: int) -> HttpResponse:
    run = succeeded_run(run_id)
    report = run_report(run)
    export_log_start(user=request.user, file=_filename(run.pk, "docx"),
                     options={"run": run.pk}, row_count=len(report.tables))
    response = HttpResponse(report_docx(report), content_type=DOCX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_filename(run.pk, "docx")}"'
    response["Cache-Control"] = "no-store"
    return response
