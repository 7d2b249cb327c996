"""Pages of verified keying: a clinic's forms awaiting a second keying, the blind second
keying, the differences side by side with their settling, and for data managers the
discrepancy rates and the study's setting. The services decide; the pages ask."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from clinics.selectors import clinics_for_user
from core.forms import add_service_errors
from core.permissions import CAN_MANAGE, requires
from patients.access import patient_for_request, require_edit

from .forms import ACTION_COMPLETE, AdministrationForm
from .models import PihFormVersion, Timepoint
from .verification import (
    FIELD_LABELS,
    discrepancies_settle,
    first_keyers,
    keying_setting_update,
    may_settle,
    second_keying_submit,
    shown_value,
)
from .verification_forms import KeyingSettingForm, SettleForm
from .verification_models import KeyingStatus, KeyingVerification
from .verification_selection import keying_setting
from .verification_selectors import clinic_keying_tasks, discrepancy_rates, keying_status_counts


def _verification(request: HttpRequest, study_id: str, timepoint: str):
    """The patient (404 to outsiders, 403 to read-only roles), the form and its keying."""
    if timepoint not in Timepoint.values:
        raise Http404("No such timepoint.")
    patient = patient_for_request(request, study_id, edit=True)
    administration = get_object_or_404(patient.administrations, timepoint=timepoint)
    verification = get_object_or_404(KeyingVerification, administration=administration)
    return patient, administration, verification


@login_required
def keying_clinic(request: HttpRequest, code: str) -> HttpResponse:
    """The clinic's forms awaiting a second keying, and those with differences to settle."""
    clinic = get_object_or_404(clinics_for_user(user=request.user), code=code)
    require_edit(request, clinic)
    tasks = clinic_keying_tasks(clinic)
    return render(request, "questionnaires/verification_clinic.html", {
        "clinic": clinic, "awaiting": tasks[KeyingStatus.AWAITING],
        "discrepant": tasks[KeyingStatus.DISCREPANT]})


@login_required
@require_http_methods(["GET", "POST"])
def second_keying(request: HttpRequest, study_id: str, timepoint: str) -> HttpResponse:
    """Key the paper form again without seeing the first keying."""
    patient, administration, verification = _verification(request, study_id, timepoint)
    if verification.status != KeyingStatus.AWAITING:
        return redirect("questionnaires:keying_differences", study_id=study_id,
                        timepoint=timepoint)
    own = request.user.pk in first_keyers(administration, verification)
    form_kwargs = {"timepoint": timepoint, "existing": None, "baseline_on": None}
    if request.method == "POST" and not own:
        form = AdministrationForm(request.POST, **form_kwargs)
        if form.is_valid() and form.action == ACTION_COMPLETE:
            try:
                done = second_keying_submit(
                    administration=administration, by=request.user,
                    administered_on=form.cleaned_data["administered_on"],
                    answers=form.answers(),
                    pih_form_version=form.cleaned_data["pih_form_version"])
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                return _after_second_keying(request, patient, timepoint, done)
    else:
        form = AdministrationForm(initial={"pih_form_version": PihFormVersion.CURRENT},
                                  **form_kwargs)
    return render(request, "questionnaires/verification_second_keying.html", {
        "patient": patient, "timepoint_label": Timepoint(timepoint).label, "form": form,
        "own": own})


def _after_second_keying(request, patient, timepoint, verification) -> HttpResponse:
    if verification.is_verified:
        messages.success(request, f"{patient.study_id}: the second keying matches the first. "
                                  "The questionnaire is verified.")
        return redirect("questionnaires:keying_clinic", code=patient.clinic.code)
    count = verification.discrepancies.count()
    messages.warning(request, f"{patient.study_id}: {count} field{'s' if count > 1 else ''} "
                              "differ from the first keying. Settle them against the paper.")
    return redirect("questionnaires:keying_differences", study_id=patient.study_id,
                    timepoint=timepoint)


@login_required
@require_http_methods(["GET", "POST"])
def keying_differences(request: HttpRequest, study_id: str, timepoint: str) -> HttpResponse:
    """The fields the two keyings differ on, side by side, and their settling."""
    patient, administration, verification = _verification(request, study_id, timepoint)
    if verification.status == KeyingStatus.AWAITING:
        raise Http404("Not keyed a second time yet.")  # the differences would unblind it
    discrepancies = list(verification.discrepancies.select_related("settled_by"))
    open_ = [d for d in discrepancies if not d.settled]
    can_settle = bool(open_) and may_settle(verification, request.user)
    form = SettleForm(request.POST if request.method == "POST" else None, discrepancies=open_)
    if request.method == "POST" and can_settle and form.is_valid():
        try:
            discrepancies_settle(administration=administration, decisions=form.decisions(),
                                 by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{patient.study_id}: differences settled.")
            return redirect("questionnaires:keying_differences", study_id=study_id,
                            timepoint=timepoint)
    return render(request, "questionnaires/verification_differences.html", {
        "patient": patient, "timepoint": timepoint,
        "timepoint_label": Timepoint(timepoint).label, "verification": verification,
        "rows": [(FIELD_LABELS.get(d.field, d.field), shown_value(d.field, d.first_value),
                  shown_value(d.field, d.second_value), d) for d in discrepancies],
        "form": form, "can_settle": can_settle})


@login_required
@requires(CAN_MANAGE, "Only a data manager sees the keying discrepancy rates.")
def keying_report(request: HttpRequest) -> HttpResponse:
    clinics, keyers = discrepancy_rates()
    return render(request, "questionnaires/verification_report.html", {
        "clinics": clinics, "keyers": keyers, "counts": keying_status_counts(),
        "setting": keying_setting()})


@login_required
@requires(CAN_MANAGE, "Only a data manager changes the verified-keying setting.")
@require_http_methods(["GET", "POST"])
def keying_setting_edit(request: HttpRequest) -> HttpResponse:
    form = KeyingSettingForm(request.POST or None, instance=keying_setting())
    if request.method == "POST" and form.is_valid():
        try:
            keying_setting_update(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Verified-keying setting saved: it applies to forms "
                                      "completed from now on.")
            return redirect("questionnaires:keying_report")
    return render(request, "questionnaires/verification_setting.html", {"form": form})
