"""Landing page, clinic choice and the clinic worklist."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse

from clinics.selectors import can_edit_clinical_data, clinics_for_user, is_study_wide
from patients.worklist import STATUSES, clinic_worklist

from .models import Clinic

DASHBOARD_URL_NAME = "analysis:dashboard"
# A page a nurse can scan; the status counts and filters at the top cover the whole clinic.
WORKLIST_PAGE_SIZE = 100


def _dashboard_url() -> str | None:
    # The dashboard is built separately; until its URL exists, study-wide roles get the
    # clinic list instead of an error.
    try:
        return reverse(DASHBOARD_URL_NAME)
    except NoReverseMatch:
        return None


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each user where their work is: worklist, dashboard or a polite dead end."""
    if is_study_wide(user=request.user):
        return redirect(_dashboard_url() or reverse("clinics:list"))
    clinics = list(clinics_for_user(user=request.user))
    if len(clinics) == 1:
        return redirect("clinics:worklist", code=clinics[0].code)
    if clinics:
        return render(request, "clinics/clinic_list.html", {"clinics": clinics})
    return render(request, "clinics/no_membership.html", status=403)


@login_required
def clinic_list(request: HttpRequest) -> HttpResponse:
    """The clinics the user may see; a nurse at one clinic goes straight to its worklist."""
    clinics = list(clinics_for_user(user=request.user))
    if len(clinics) == 1 and not is_study_wide(user=request.user):
        return redirect("clinics:worklist", code=clinics[0].code)
    if not clinics:
        return render(request, "clinics/no_membership.html", status=403)
    return render(request, "clinics/clinic_list.html", {"clinics": clinics})


def _clinic_for_user(request: HttpRequest, code: str) -> Clinic:
    return get_object_or_404(clinics_for_user(user=request.user), code=code)


@login_required
def worklist(request: HttpRequest, code: str) -> HttpResponse:
    """Every patient of the clinic with a status a nurse can act on."""
    clinic = _clinic_for_user(request, code)
    status = request.GET.get("status", "")
    search = request.GET.get("q", "")[:20]
    result = clinic_worklist(clinic=clinic, status=status, search=search)
    page = Paginator(result.rows, WORKLIST_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "clinics/clinic_worklist.html", {
        "clinic": clinic, "worklist": result, "page": page, "statuses": STATUSES,
        "status_counts": [(s, result.counts[s.code]) for s in STATUSES],
        "current_status": status, "search": search,
        "can_edit": can_edit_clinical_data(user=request.user, clinic=clinic),
        # Reversed once, not once per row: a clinic may have a thousand patients.
        "patient_prefix": reverse("patients:detail", args=["X"]).removesuffix("X/"),
        "entry_prefix": reverse("questionnaires:entry",
                                args=["X", "baseline"]).removesuffix("X/baseline/"),
    })
