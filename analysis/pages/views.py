"""Researcher dashboard and statistician export pages (thin: parse, call, render).

Who may do what is core.permissions' policy:
- the dashboard, its interview and data-quality pages, the export page (researchers read
  the codebook there) and "Refit now": CAN_ANALYSE; nurses get 403 (they have their
  clinic worklists), anonymous users the login;
- the downloads themselves: CAN_DOWNLOAD (403 for researchers);
- interview records: CAN_RECORD_INTERVIEWS;
- the study target (power calculation inputs) and a failed run's error: CAN_MANAGE.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.permissions import (
    CAN_ANALYSE,
    CAN_DOWNLOAD,
    CAN_MANAGE,
    CAN_RECORD_INTERVIEWS,
    has_capability,
    require,
    requires,
)
from patients.selectors import get_patient_for_user

from .. import exports, selectors, services
from ..freezes import views as freeze_views
from . import dashboard, interviews, quality
from .forms import InterviewContactForm, InterviewRuleForm, RefitForm, StudyTargetForm
from .refit_options import refit_with_options


def _permissions(request: HttpRequest) -> dict[str, bool]:
    return {
        "can_download": has_capability(request.user, CAN_DOWNLOAD),
        "can_edit_target": has_capability(request.user, CAN_MANAGE),
        "can_record_interviews": has_capability(request.user, CAN_RECORD_INTERVIEWS),
        "can_see_errors": has_capability(request.user, CAN_MANAGE),
    }


@login_required
@require_GET
@requires(CAN_ANALYSE)
def dashboard_view(request: HttpRequest) -> HttpResponse:
    """Recruitment, Tables 1 and 2, plots and freshness: from the stored run.

    `?freeze=ID`: a dataset freeze's tables instead, labelled with its label, date and
    fingerprint (analysis/freezes)."""
    if "freeze" in request.GET:
        return freeze_views.freeze_dashboard(request, request.GET["freeze"],
                                             _permissions(request))
    context = dashboard.dashboard_context(
        variant=request.GET.get("variant", dashboard.DEFAULT_VARIANT),
        diagnostics=request.GET.get("diagnostics", ""))
    return render(request, "analysis/dashboard_detail.html",
                  {**context, **_permissions(request),
                   "refit_form": RefitForm.for_run(context["run"])})


@login_required
@require_POST
@requires(CAN_ANALYSE)
def refit_now(request: HttpRequest) -> HttpResponse:
    """The dashboard's refit button and its options (method, population)."""
    form = RefitForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Refit not started. {form.problems()}")
        return redirect("analysis:dashboard")
    messages.success(request, refit_with_options(by=request.user, options=form.options()))
    return redirect("analysis:dashboard")


@login_required
@require_http_methods(["GET", "POST"])
@requires(CAN_MANAGE)
def target_edit(request: HttpRequest) -> HttpResponse:
    """A data manager changes the power calculation's inputs."""
    target = selectors.study_target_get()
    form = StudyTargetForm(request.POST or None, instance=target)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.study_target_update(
                standardised_difference=data["standardised_difference"], power=data["power"],
                alpha=data["alpha"], by=request.user, reason=data["reason"],
                headline_inference=data.get("headline_inference") or None)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Study target updated.")
            return redirect("analysis:dashboard")
    preview = dashboard.target_preview(form)
    return render(request, "analysis/studytarget_edit.html",
                  {"form": form, "preview": preview})


@login_required
@require_http_methods(["GET", "POST"])
@requires(CAN_ANALYSE)
def interview_list(request: HttpRequest) -> HttpResponse:
    """Table 3, the maximum-variation proposal and the interview records."""
    rule_form = InterviewRuleForm(request.GET or None)
    sd_fraction, size = rule_form.values()
    contact_form = InterviewContactForm(request.POST or None)
    if request.method == "POST":
        require(request.user, CAN_RECORD_INTERVIEWS,
                message="Your role does not give access to this page.")
        if contact_form.is_valid():
            saved = _save_contact(request, contact_form)
            if saved:
                return redirect(request.get_full_path())
    context = interviews.interview_context(sd_fraction=sd_fraction, proposal_size=size)
    return render(request, "analysis/interview_list.html", {
        **context, "rule_form": rule_form, "contact_form": contact_form,
        **_permissions(request)})


def _save_contact(request: HttpRequest, form: InterviewContactForm) -> bool:
    data = form.cleaned_data
    try:
        patient = get_patient_for_user(user=request.user, study_id=data["study_id"].strip())
    except Http404:
        form.add_error("study_id", f"No patient with study ID {data['study_id']}.")
        return False
    try:
        services.interview_contact_save(
            patient=patient, status=data["status"], by=request.user,
            invited_on=data["invited_on"], interviewed_on=data["interviewed_on"],
            duration_minutes=data["duration_minutes"], place=data["place"],
            notes=data["notes"])
    except ValidationError as error:
        form.add_error(None, error)
        return False
    messages.success(request, f"Interview record of {patient.study_id} saved.")
    return True


@login_required
@require_GET
@requires(CAN_ANALYSE)
def quality_list(request: HttpRequest) -> HttpResponse:
    return render(request, "analysis/quality_list.html", quality.quality_page(user=request.user))


@login_required
@require_GET
@requires(CAN_ANALYSE)
def export_view(request: HttpRequest) -> HttpResponse:
    """The downloads, the codebook and the loading snippets."""
    return render(request, "analysis/export_list.html", {
        **exports.export_page_context(user=request.user), **_permissions(request)})


@login_required
@require_GET
@requires(CAN_ANALYSE)
def download(request: HttpRequest, file: str) -> HttpResponse:
    """One export file; every download is logged. The codebook and the snippets (no
    patient data) for every role of the export page, the patient-level files CAN_DOWNLOAD."""
    if file not in exports.FILES:
        raise Http404("No such export.")
    if file not in exports.DOCUMENTATION_FILES:
        require(request.user, CAN_DOWNLOAD, message="Downloads of patient-level files are "
                "for statisticians and data managers.")
    filename, content_type = exports.FILES[file]
    if file == "cohort_csv":
        response = StreamingHttpResponse(exports.cohort_csv_stream(user=request.user),
                                         content_type=content_type)
    elif file == "wide_csv":
        response = StreamingHttpResponse(exports.wide_csv_stream(user=request.user),
                                         content_type=content_type)
    elif file == "codebook_csv":
        response = HttpResponse(b"".join(exports.codebook_export(user=request.user)),
                                content_type=content_type)
    elif file in ("cohort_dta", "wide_dta"):
        handle = exports.dta_export(user=request.user, shape=file.split("_")[0])
        return FileResponse(handle, as_attachment=True, filename=filename,
                            content_type=content_type)
    else:
        text = exports.snippet_export(user=request.user, language=file.split("_")[1])
        response = HttpResponse(text, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
