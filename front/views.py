"""The pages that compose several apps: the clinic worklist (URL name clinics:worklist),
the patient record (patients:detail) and its change history (patients:history). Each view
loads its object through the clinic-scoped helper and renders what front.pages builds.
"""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from clinics.selectors import clinics_for_user
from patients.access import patient_for_request

from .pages import patient_history_page, patient_record_page, worklist_page


@login_required
def worklist(request: HttpRequest, code: str) -> HttpResponse:
    """Every patient of the clinic with a status a nurse can act on."""
    clinic = get_object_or_404(clinics_for_user(user=request.user), code=code)
    return render(request, "front/clinic_worklist.html", worklist_page(
        user=request.user, clinic=clinic, status=request.GET.get("status", ""),
        search=request.GET.get("q", "")[:20], sort=request.GET.get("sort", ""),
        page_number=request.GET.get("page")))


@login_required
def patient_detail(request: HttpRequest, study_id: str) -> HttpResponse:
    """The patient's record: consent, characteristics, questionnaires and scores, actions."""
    patient = patient_for_request(request, study_id)
    return render(request, "front/patient_detail.html",
                  patient_record_page(user=request.user, patient=patient))


@login_required
def patient_history(request: HttpRequest, study_id: str) -> HttpResponse:
    """Every change to the patient's data: who, when, field, old and new value, reason."""
    patient = patient_for_request(request, study_id)
    return render(request, "front/patient_history.html",
                  patient_history_page(patient=patient))
