"""The nurse's reminder address page and the patient's "stop reminders" page."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.forms import add_service_errors

from . import services
from .forms import ReminderContactForm
from .selectors import contact_or_none, patient_for_clinic_nurse


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def contact_edit(request: HttpRequest, study_id: str) -> HttpResponse:
    """Record or change the patient's reminder address (nurses of the clinic only)."""
    patient = patient_for_clinic_nurse(request, study_id)
    contact = contact_or_none(patient)
    initial = {"consented_on": timezone.localdate()}
    if contact is not None and contact.active:
        initial = {"email": contact.email, "consented_on": contact.consented_on}
    form = ReminderContactForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_record(patient=patient, email=form.cleaned_data["email"],
                                    consented_on=form.cleaned_data["consented_on"],
                                    by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Reminder address of {patient.study_id} recorded.")
            return redirect("patients:detail", study_id=patient.study_id)
    return render(request, "reminders/contact_edit.html", {"patient": patient, "form": form})


@login_required
@require_POST
def contact_erase(request: HttpRequest, study_id: str) -> HttpResponse:
    """Remove the patient's reminder address (the patient asked, or it is wrong)."""
    patient = patient_for_clinic_nurse(request, study_id)
    if services.contact_erase(patient=patient):
        messages.success(request, f"Reminder address of {patient.study_id} erased.")
    return redirect("patients:detail", study_id=patient.study_id)


@never_cache
@require_http_methods(["GET", "POST"])
def stop(request: HttpRequest, token: str) -> HttpResponse:
    """Stop the reminders. The same pages whatever the token: nothing about the patient,
    nor whether the link is valid, can be learnt here."""
    if request.method == "POST":
        services.reminders_stop(token=token)
        return render(request, "reminders/stopped.html")
    return render(request, "reminders/stop_confirm.html")
