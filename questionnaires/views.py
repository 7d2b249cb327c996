"""Questionnaire entry (one page per administration: BPI, PPiC and PIH together) and the
nurse's confirmation of a patient's own answers. The pages that show patients with their
questionnaires (worklist, record, history) are front's: they compose several apps.
"""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.forms import add_service_errors
from patients.access import patient_for_request
from patients.selectors import withdrawal_or_none
from patients.signoff import signed_off_note
from patients.validators import withdrawn_note

from .forms import ACTION_COMPLETE, AdministrationForm, initial_from
from .history import changes_since
from .instruments import ITEM_CODES
from .models import Timepoint
from .services import (
    StaleEditError,
    administration_confirm,
    administration_save,
    lock_for_entry,
)
from .summary import score_rows
from .verification import first_keyers
from .verification_models import KeyingStatus
from .verification_selectors import verification_for


@login_required
@require_http_methods(["GET", "POST"])
def administration_entry(request: HttpRequest, study_id: str, timepoint: str) -> HttpResponse:
    """Enter, complete or correct the patient's questionnaire at a timepoint."""
    if timepoint not in Timepoint.values:
        raise Http404("No such timepoint.")
    patient = patient_for_request(request, study_id, edit=True)
    form = conflict = None
    if request.method == "POST":
        saved, form, conflict = _submit(request, patient, timepoint)
        if saved is not None:
            messages.success(request, _saved_message(saved))
            return redirect("questionnaires:entry", study_id=patient.study_id,
                            timepoint=timepoint)
    # The page (a GET, or a POST that did not save) reads what is stored now.
    stored = _stored(patient)
    existing = stored.get(timepoint)
    if form is None:
        form = AdministrationForm(initial=initial_from(existing),
                                  **_form_kwargs(timepoint, stored))
    return render(request, "questionnaires/administration_entry.html", {
        "patient": patient, "timepoint": timepoint,
        "timepoint_label": Timepoint(timepoint).label, "form": form, "existing": existing,
        "scores": score_rows(existing) if existing else [], "conflict": conflict,
        **_withdrawal_context(withdrawal_or_none(patient), existing),
        **_sign_off_context(patient), **_keying_context(request, existing),
    })


def _stored(patient) -> dict:
    return {admin.timepoint: admin for admin in patient.administrations.all()}


def _form_kwargs(timepoint: str, stored) -> dict:
    baseline = stored.get(Timepoint.BASELINE)
    return {"timepoint": timepoint, "existing": stored.get(timepoint),
            "baseline_on": baseline.administered_on if baseline else None}


def _submit(request: HttpRequest, patient, timepoint: str):
    """Validate the POST against the rows read under the patient's lock and save them in
    that one transaction, so the save reads nothing twice. (saved or None, form, conflict)."""
    form = None
    try:
        with transaction.atomic():
            locked = lock_for_entry(patient)
            form = AdministrationForm(request.POST,
                                      **_form_kwargs(timepoint, locked.administrations))
            if not form.is_valid():
                return None, form, None
            return administration_save(
                patient=patient, timepoint=timepoint,
                administered_on=form.cleaned_data["administered_on"],
                answers=form.answers(), by=request.user,
                complete=form.action == ACTION_COMPLETE,
                base_version=form.cleaned_data["base_version"],
                reason=form.cleaned_data["reason"],
                pih_form_version=form.cleaned_data["pih_form_version"], locked=locked), form, None
    except StaleEditError as stale:
        conflict = changes_since(administration=stale.current,
                                 version=form.cleaned_data["base_version"])
        rebased = _rebased_form(request, stale.current,
                                _form_kwargs(timepoint, _stored(patient)))
        return None, rebased, conflict
    except ValidationError as error:
        if form is None:  # refused at the lock (signed off): the form is shown all the same
            form = AdministrationForm(request.POST, **_form_kwargs(timepoint, _stored(patient)))
            form.is_valid()
        add_service_errors(form, error)
        return None, form, None


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


def _sign_off_context(patient) -> dict:
    """A signed-off record is read-only: the page says why and offers no form (the
    service refuses a forged POST all the same)."""
    if not patient.is_signed_off:
        return {}
    return {"signed_off_note": signed_off_note(patient.signed_off_at), "read_only": True}


def _keying_context(request: HttpRequest, existing) -> dict:
    """The "unverified" mark; while a form awaits its second keying, only those who keyed
    it see its values here (the second keying is blind)."""
    keying = verification_for(existing)
    if keying is None or keying.is_verified:
        return {"keying": keying}
    blind = (keying.status == KeyingStatus.AWAITING
             and request.user.pk not in first_keyers(existing, keying))
    return {"keying": keying, "keying_blind": blind, **({"read_only": True} if blind else {})}


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
