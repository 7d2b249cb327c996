"""Pages of self-completion.

Patient-facing (no sign-in, no patient identity shown): the link pages under /p/ and the
tablet pages of a session in patient mode. Staff-facing: "Hand to patient", "Invite to
complete at home" and the printable invitation card, from the patient record.
"""
from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from patients.access import patient_for_request

from . import patient_mode, selectors
from .cards import qr_svg
from .flow import FlowUrls, part_number, part_page, part_url, resume_url, review_page
from .models import Invitation
from .ratelimit import lookup_failed, lookups_blocked
from .services import (
    followup_link_ensure,
    invitation_opened,
    link_code,
    link_path,
    link_token,
    tablet_handover_start,
)
from .tokens import grouped_code

PATIENT_BASE = "selfcompletion/patient_base.html"


def _state_page(request: HttpRequest, state: str, status: int = 200) -> HttpResponse:
    """A page that names what happened and nothing about the patient or clinic."""
    return render(request, "selfcompletion/state.html", {"state": state}, status=status)


# -- the one-time link ----------------------------------------------------------------------

def _link_invitation(request: HttpRequest, token: str
                     ) -> tuple[Invitation | None, HttpResponse | None]:
    """The usable invitation of this token, or the page to answer instead."""
    if lookups_blocked(request):
        return None, _state_page(request, "blocked", status=429)
    invitation = selectors.invitation_by_token(token)
    if invitation is None:
        lookup_failed(request)
        return None, _state_page(request, "invalid", status=404)
    state = selectors.link_state(invitation, today=timezone.localdate())
    if state != selectors.USABLE:
        return None, _state_page(request, state, status=200 if state == selectors.USED else 410)
    return invitation, None


def _link_urls(token: str) -> FlowUrls:
    landing = link_path(token)
    return FlowUrls(
        part=lambda number: part_url(reverse("selfcompletion:link_part", args=[token]), number),
        review=reverse("selfcompletion:link_review", args=[token]),
        submitted=landing, closed=landing)


@never_cache
@require_http_methods(["GET", "POST"])
def code_entry(request: HttpRequest) -> HttpResponse:
    """Type the short code from the card."""
    if lookups_blocked(request):
        return _state_page(request, "blocked", status=429)
    error, typed = "", ""
    if request.method == "POST":
        typed = request.POST.get("code", "")[:20]  # kept in the field: fix one character
        invitation = selectors.invitation_by_code(typed)
        if invitation is not None:
            return redirect(link_path(link_token(invitation)))
        lookup_failed(request)
        error = "We could not find that code. Check it against your card and try again."
    return render(request, "selfcompletion/code.html", {"error": error, "typed": typed},
                  status=400 if error else 200)


@never_cache
def link_landing(request: HttpRequest, token: str) -> HttpResponse:
    invitation, answer = _link_invitation(request, token)
    if answer:
        return answer
    invitation_opened(invitation)
    return render(request, "selfcompletion/welcome.html", {
        "base": PATIENT_BASE, "token": token, "started": bool(invitation.draft),
        "start_url": resume_url(invitation, _link_urls(token)),
        "valid_until": invitation.valid_until})


@never_cache
@require_http_methods(["GET", "POST"])
def link_part(request: HttpRequest, token: str) -> HttpResponse:
    invitation, answer = _link_invitation(request, token)
    return answer or part_page(request, invitation, part_number(request), _link_urls(token),
                               PATIENT_BASE)


@never_cache
@require_http_methods(["GET", "POST"])
def link_review(request: HttpRequest, token: str) -> HttpResponse:
    invitation, answer = _link_invitation(request, token)
    return answer or review_page(request, invitation, _link_urls(token), PATIENT_BASE)


# -- the clinic tablet in patient mode --------------------------------------------------------

def _tablet_invitation(request: HttpRequest) -> Invitation | None:
    pk = patient_mode.invitation_id(request) if request.user.is_authenticated else None
    return Invitation.objects.select_related("patient").filter(pk=pk).first() if pk else None


def _tablet_urls() -> FlowUrls:
    done = reverse("selfcompletion:tablet_done")
    questions = reverse("selfcompletion:tablet_part")
    return FlowUrls(part=lambda number: part_url(questions, number),
                    review=reverse("selfcompletion:tablet_review"), submitted=done, closed=done)


def _tablet_page(view):
    """Tablet pages need a session in patient mode; otherwise the neutral page."""
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        invitation = _tablet_invitation(request)
        if invitation is None:
            return redirect("selfcompletion:ended")
        return view(request, invitation, *args, **kwargs)
    return never_cache(wrapped)


@_tablet_page
def tablet(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    if invitation.submitted_at is not None:
        return redirect("selfcompletion:tablet_done")
    return render(request, "selfcompletion/welcome.html", {
        "base": PATIENT_BASE, "tablet": True, "started": bool(invitation.draft),
        "start_url": resume_url(invitation, _tablet_urls())})


@_tablet_page
@require_http_methods(["GET", "POST"])
def tablet_part(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    return part_page(request, invitation, part_number(request), _tablet_urls(), PATIENT_BASE)


@_tablet_page
@require_http_methods(["GET", "POST"])
def tablet_review(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    return review_page(request, invitation, _tablet_urls(), PATIENT_BASE, by=request.user)


@_tablet_page
def tablet_done(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    return render(request, "selfcompletion/tablet_done.html",
                  {"submitted": invitation.submitted_at is not None})


@_tablet_page
@require_http_methods(["GET", "POST"])
def tablet_exit(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    """Back to staff mode: the nurse who handed the tablet over types her password
    (patient_mode.exit_password_check: not a sign-in, so not counted towards her lockout)."""
    error = ""
    if request.method == "POST":
        outcome = patient_mode.exit_password_check(request, request.POST.get("password", ""))
        if outcome.left:
            return redirect("patients:detail", study_id=invitation.patient.study_id)
        if outcome.locked:
            return render(request, "selfcompletion/tablet_exit.html",
                          {"locked": True, "error": outcome.message}, status=403)
        error = outcome.message
    return render(request, "selfcompletion/tablet_exit.html", {"error": error},
                  status=400 if error else 200)


@never_cache
def ended(request: HttpRequest) -> HttpResponse:
    return _state_page(request, "ended")


# -- staff: from the patient record ----------------------------------------------------------

@login_required
@require_POST
def hand_to_patient(request: HttpRequest, study_id: str, timepoint: str) -> HttpResponse:
    patient = patient_for_request(request, study_id, edit=True)
    try:
        invitation = tablet_handover_start(patient=patient, timepoint=timepoint,
                                           by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("patients:detail", study_id=study_id)
    patient_mode.enter(request, invitation.pk)
    return redirect("selfcompletion:tablet")


@login_required
@require_POST
def invite(request: HttpRequest, study_id: str) -> HttpResponse:
    patient = patient_for_request(request, study_id, edit=True)
    try:
        invitation, _ = followup_link_ensure(patient=patient, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("patients:detail", study_id=study_id)
    return redirect("selfcompletion:card", study_id=invitation.patient.study_id)


@login_required
def card(request: HttpRequest, study_id: str) -> HttpResponse:
    """The printable card of the patient's usable follow-up link: QR code, address and
    short code, valid dates."""
    patient = patient_for_request(request, study_id, edit=True)
    invitation = selectors.usable_followup_link(patient, today=timezone.localdate())
    if invitation is None:
        raise Http404("No open invitation: issue one from the patient's record.")
    url = request.build_absolute_uri(link_path(link_token(invitation)))
    return render(request, "selfcompletion/card.html", {
        "patient": patient, "invitation": invitation, "qr": qr_svg(url), "url": url,
        "code": grouped_code(link_code(invitation)),
        "code_url": request.build_absolute_uri(reverse("selfcompletion:code"))})
