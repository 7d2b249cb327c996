"""The two-factor pages: enter a code, set up an authenticator, see the recovery codes."""
from __future__ import annotations

import base64

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods

from . import services
from .forms import CodeForm
from .policy import SETUP, VERIFY, has_authenticator, recovery_codes_left, step_owed

VERIFY_HINT = ("The 6-digit code your authenticator app shows for PainCohort, or one of "
               "your recovery codes.")
SETUP_HINT = "The 6-digit code the app shows after you have added PainCohort."


def next_url(request: HttpRequest) -> str:
    """Where the user was going (a page of this site only), or the home page."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return wanted
    return reverse(settings.LOGIN_REDIRECT_URL)


def step_url(step: str, next_path: str) -> str:
    """The page of a two-factor step, remembering where the user was going."""
    name = {VERIFY: "two_factor_verify", SETUP: "two_factor_setup"}[step]
    return f"{reverse(name)}?{urlencode({'next': next_path})}"


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    step = step_owed(request.user)
    if step != VERIFY:
        return redirect(step_url(SETUP, next_url(request)) if step else next_url(request))
    form = CodeForm(request.POST or None, hint=VERIFY_HINT)
    if form.is_valid():
        outcome = services.second_factor_check(request, form.cleaned_data["code"])
        if outcome.accepted:
            if outcome.message:
                messages.warning(request, outcome.message)
            return redirect(next_url(request))
        if outcome.signed_out:
            return _signed_out(request, outcome.message)
        form.add_error("code", outcome.message)
    return render(request, "registration/two_factor_verify.html",
                  {"form": form, "next": next_url(request)})


@login_required
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    # A second authenticator is added only after a data manager removes the first (lost
    # phone): otherwise a stolen password would be enough to add one.
    if has_authenticator(request.user):
        return redirect(step_url(VERIFY, next_url(request)))
    device = services.authenticator_pending(request.user)
    form = CodeForm(request.POST or None, hint=SETUP_HINT)
    if form.is_valid():
        outcome = services.authenticator_confirm(request, device, form.cleaned_data["code"])
        if outcome.accepted:
            codes_url = reverse("two_factor_recovery_codes")
            return redirect(f"{codes_url}?{urlencode({'next': next_url(request)})}")
        if outcome.signed_out:
            return _signed_out(request, outcome.message)
        form.add_error("code", outcome.message)
    return render(request, "registration/two_factor_setup.html", {
        "form": form, "next": next_url(request),
        "qr_data_uri": segno.make(device.config_url, error="m").svg_data_uri(
            scale=5, border=2, light="#fff"),
        "secret": _grouped(base64.b32encode(device.bin_key).decode()),
    })


@login_required
@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """New codes are shown once, right after they are made; afterwards only how many are
    left, and a button to replace them all."""
    if request.method == "POST":
        if not request.user.is_verified():
            return redirect(step_url(VERIFY, request.path))
        request.session[services.NEW_CODES_KEY] = services.recovery_codes_replace(request.user)
        return redirect(f"{request.path}?{urlencode({'next': next_url(request)})}")
    codes = request.session.pop(services.NEW_CODES_KEY, None)
    left = recovery_codes_left(request.user) if codes is None else len(codes)
    return render(request, "registration/two_factor_recovery_codes.html", {
        "codes": [_grouped(code) for code in codes or []], "left": left,
        "next": next_url(request), "can_replace": request.user.is_verified(),
    })


def _signed_out(request: HttpRequest, message: str) -> HttpResponse:
    messages.error(request, message)
    return redirect(settings.LOGIN_URL)


def _grouped(text: str, size: int = 4) -> str:
    """ABCD EFGH ...: easier to read aloud and to type."""
    return " ".join(text[start:start + size] for start in range(0, len(text), size))
