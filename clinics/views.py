"""Landing page and clinic choice. The clinic worklist is drawn by questionnaires.views
(it needs patients and their questionnaires); its URL name stays clinics:worklist."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from clinics.selectors import clinics_for_user, is_study_wide


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each user where their work is: worklist, dashboard or a polite dead end."""
    if is_study_wide(user=request.user):
        return redirect("analysis:dashboard")
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
