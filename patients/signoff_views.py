"""Sign-off pages for data managers: one record (sign off, unlock) and a clinic's bulk
sign-off. The services decide under the patient's row lock; the pages only ask."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from clinics.selectors import clinics_for_user
from core.forms import add_service_errors
from core.permissions import CAN_MANAGE, requires

from . import services
from .access import patient_for_request
from .selectors import clinic_sign_off_preview, sign_off_state
from .signoff_forms import UnlockForm

ONLY_DATA_MANAGERS = "Only a data manager signs off or unlocks a record."


def _record_page(request: HttpRequest, patient, form: UnlockForm | None = None,
                 error: str = "") -> HttpResponse:
    return render(request, "patients/signoff_record.html", {
        "patient": patient, "state": sign_off_state(patient),
        "form": form or UnlockForm(), "error": error})


@login_required
@requires(CAN_MANAGE, ONLY_DATA_MANAGERS)
@require_http_methods(["GET", "POST"])
def record_sign_off(request: HttpRequest, study_id: str) -> HttpResponse:
    """The record's sign-off state; POST signs it off."""
    patient = patient_for_request(request, study_id, edit=True)
    if request.method == "POST":
        try:
            services.record_sign_off(patient=patient, by=request.user)
        except ValidationError as error:
            return _record_page(request, patient, error=" ".join(error.messages))
        messages.success(request, f"{patient.study_id} signed off: the record is read-only.")
        return redirect("patients:sign_off", study_id=patient.study_id)
    return _record_page(request, patient)


@login_required
@requires(CAN_MANAGE, ONLY_DATA_MANAGERS)
@require_POST
def record_unlock(request: HttpRequest, study_id: str) -> HttpResponse:
    """Open a signed-off record again, with a reason."""
    patient = patient_for_request(request, study_id, edit=True)
    form = UnlockForm(request.POST)
    if form.is_valid():
        try:
            services.record_unlock(patient=patient, by=request.user,
                                   reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{patient.study_id} unlocked: it can be changed again.")
            return redirect("patients:sign_off", study_id=patient.study_id)
    return _record_page(request, patient, form=form)


@login_required
@requires(CAN_MANAGE, ONLY_DATA_MANAGERS)
@require_http_methods(["GET", "POST"])
def clinic_sign_off(request: HttpRequest, code: str) -> HttpResponse:
    """Sign off every record of the clinic that can be; GET shows what would happen."""
    clinic = get_object_or_404(clinics_for_user(user=request.user), code=code)
    result = None
    if request.method == "POST":
        result = services.clinic_sign_off(clinic=clinic, by=request.user)
    return render(request, "patients/signoff_clinic.html", {
        "clinic": clinic, "result": result,
        "preview": None if result else clinic_sign_off_preview(clinic)})
