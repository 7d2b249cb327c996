"""Questionnaire entry (one page per administration: BPI, PPiC and PIH together) and the
nurse's confirmation of a patient's own answers. The pages that show patients with their
questionnaires (worklist, record, history) are front's: they compose several apps.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.forms import add_service_errors
from patients.access import patient_for_request
from patients.selectors import withdrawal_or_none
from patients.validators import withdrawn_note

from .forms import ACTION_COMPLETE, AdministrationForm, initial_from
from .history import changes_since
from .instruments import ITEM_CODES
from .models import Timepoint
from .services import StaleEditError, administration_confirm, administration_save
from .summary import score_rows


@login_required
@require_http_methods(["GET", "POST"])
def administration_entry(request: HttpRequest, study_id: str, timepoint: str) -> HttpResponse:
    """Enter, complete or correct the patient's questionnaire at a timepoint."""
    if timepoint not in Timepoint.values:
        raise Http404("No such timepoint.")
    patient = patient_for_request(request, study_id, edit=True)
    stored = {admin.timepoint: admin for admin in patient.administrations.all()}
    existing, baseline = stored.get(timepoint), stored.get(Timepoint.BASELINE)
    withdrawal = withdrawal_or_none(patient)
    form_kwargs = {"timepoint": timepoint, "existing": existing,
                   "baseline_on": baseline.administered_on if baseline else None}
    conflict = None
    if request.method == "POST":
        form = AdministrationForm(request.POST, **form_kwargs)
        if form.is_valid():
            try:
                saved = administration_save(
                    patient=patient, timepoint=timepoint,
                    administered_on=form.cleaned_data["administered_on"],
                    answers=form.answers(), by=request.user,
                    complete=form.action == ACTION_COMPLETE,
                    base_version=form.cleaned_data["base_version"],
                    reason=form.cleaned_data["reason"],
                    pih_form_version=form.cleaned_data["pih_form_version"])
            except StaleEditError as stale:
                conflict = changes_since(administration=stale.current,
                                         version=form.cleaned_data["base_version"])
                form = _rebased_form(request, stale.current, form_kwargs)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _saved_message(saved))
                return redirect("questionnaires:entry", study_id=patient.study_id,
                                timepoint=timepoint)
    else:
        form = AdministrationForm(initial=initial_from(existing), **form_kwargs)
    return render(request, "questionnaires/administration_entry.html", {
        "patient": patient, "timepoint": timepoint,
        "timepoint_label": Timepoint(timepoint).label, "form": form, "existing": existing,
        "scores": score_rows(existing) if existing else [], "conflict": conflict,
        **_withdrawal_context(withdrawal, existing),
    })


@login_required
@require_POST
def administration_confirm_view(request: HttpRequest, study_id: str,
                                timepoint: str) -> HttpResponse:
    """A nurse confirms she has checked the patient's own answers (tablet or link)."""
    patient = patient_for_request(request, study_id, edit=True)
    administration = get_object_or_404(patient.administrations, timepoint=timepoint)
    try:
        administration_confirm(administration=administration, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{patient.study_id}: {administration.get_timepoint_display()}"
                                  " questionnaire confirmed as checked.")
    return redirect("patients:detail", study_id=patient.study_id)


def _withdrawal_context(withdrawal, existing) -> dict:
    """Why the page offers no form after a withdrawal (the service refuses a forged POST
    all the same): no new questionnaire, and no correction when the data are left out."""
    if withdrawal is None:
        return {"withdrawn_note": "", "entry_closed": False}
    return {"withdrawn_note": withdrawn_note(withdrawal.withdrawn_on),
            "entry_closed": existing is None or not withdrawal.keep_collected_data}


def _rebased_form(request: HttpRequest, current, form_kwargs: dict) -> AdministrationForm:
    """The editor's entries kept, now based on the stored version: saving again is a
    deliberate choice, made after seeing what the other person changed."""
    initial = {name: request.POST.get(name, "") for name in AdministrationForm.base_fields}
    initial.update({code: request.POST.get(code, "") for code in ITEM_CODES},
                   base_version=current.version,
                   confirm_outside_window=bool(request.POST.get("confirm_outside_window")))
    return AdministrationForm(initial=initial, **{**form_kwargs, "existing": current})


def _saved_message(saved) -> str:
    if saved.is_complete:
        return (f"{saved.patient.study_id}: {saved.get_timepoint_display()} questionnaire "
                "saved as complete. Check the scores below.")
    return f"{saved.patient.study_id}: draft saved. Complete it when every item is keyed."
