"""Patient pages: enrolment, characteristics, withdrawal, loss to follow-up.

The patient record and its change history show questionnaires too: they are drawn by front.views
(URL names patients:detail and patients:history stay).
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from clinics.selectors import clinics_for_user
from core.forms import add_service_errors

from . import services
from .access import patient_for_request, require_edit
from .forms import CharacteristicsForm, EnrolForm, MarkLostForm, WithdrawForm
from .selectors import withdrawal_or_none

# The questionnaire that follows enrolment (questionnaires:entry, an app above this one).
BASELINE = "baseline"


def _staff_name(request: HttpRequest) -> str:
    return request.user.get_full_name() or request.user.get_username()


@login_required
@require_http_methods(["GET", "POST"])
def patient_enrol(request: HttpRequest, code: str) -> HttpResponse:
    """Record consent, then baseline characteristics; the study ID is generated unless typed."""
    clinic = get_object_or_404(clinics_for_user(user=request.user), code=code)
    require_edit(request, clinic)
    form = EnrolForm(request.POST or None, clinic_code=clinic.code, initial={
        "consented_on": timezone.localdate(), "consent_taken_by": _staff_name(request)})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            patient = services.patient_enrol(
                clinic=clinic, consented_on=data["consented_on"],
                consent_form_version=data["consent_form_version"].strip(),
                consent_taken_by=data["consent_taken_by"].strip(), by=request.user,
                study_id=data["study_id"], enrolment_key=data["enrolment_key"],
                repeat_window=services.FORM_REPEAT_WINDOW,
                **form.characteristics())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{patient.study_id} enrolled. Enter the baseline "
                                      "questionnaire next.")
            return redirect("questionnaires:entry", study_id=patient.study_id,
                            timepoint=BASELINE)
    return render(request, "patients/patient_enrol.html", {"clinic": clinic, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, study_id: str) -> HttpResponse:
    """Correct baseline characteristics, with a reason for the audit trail."""
    patient = patient_for_request(request, study_id, edit=True)
    form = CharacteristicsForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(patient=patient, by=request.user,
                                    reason=form.cleaned_data["reason"].strip(),
                                    **form.characteristics())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Characteristics saved.")
            return redirect("patients:detail", study_id=patient.study_id)
    return render(request, "patients/patient_edit.html", {"patient": patient, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def patient_withdraw(request: HttpRequest, study_id: str) -> HttpResponse:
    """Record withdrawal of consent and whether collected data stays in the analysis."""
    patient = patient_for_request(request, study_id, edit=True)
    if withdrawal_or_none(patient) is not None:
        messages.info(request, f"{patient.study_id} has already withdrawn.")
        return redirect("patients:detail", study_id=patient.study_id)
    form = WithdrawForm(request.POST or None, initial={"withdrawn_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # Withdrawal cannot be undone: a valid form first shows what will happen, and only
        # "Confirm withdrawal" on that page writes; "Go back" returns to the filled form.
        if request.POST.get("confirm") != "yes":
            if "back" in request.POST:
                return render(request, "patients/patient_withdraw.html",
                              {"patient": patient, "form": form})
            return render(request, "patients/patient_withdraw_confirm.html", {
                "patient": patient, "data": data,
                "keep_value": "yes" if data["keep_collected_data"] else "no"})
        try:
            services.patient_withdraw(
                patient=patient, withdrawn_on=data["withdrawn_on"], reason=data["reason"],
                keep_collected_data=data["keep_collected_data"], by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Withdrawal of {patient.study_id} recorded.")
            return redirect("patients:detail", study_id=patient.study_id)
    return render(request, "patients/patient_withdraw.html", {"patient": patient, "form": form})


@login_required
@require_http_methods(["GET", "POST"])
def patient_mark_lost(request: HttpRequest, study_id: str) -> HttpResponse:
    """Record loss to follow-up (did not attend, discharged)."""
    patient = patient_for_request(request, study_id, edit=True)
    form = MarkLostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_mark_lost(patient=patient, by=request.user,
                                       lost_reason=form.cleaned_data["lost_reason"],
                                       reason=form.cleaned_data["reason"].strip())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{patient.study_id} recorded as lost to follow-up.")
            return redirect("patients:detail", study_id=patient.study_id)
    return render(request, "patients/patient_lost.html", {"patient": patient, "form": form})


