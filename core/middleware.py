"""Session limits (an idle timeout and an absolute lifetime, checked on the server), no
caching of what a signed-in user sees, and no page before the second factor.

The cookie's own expiry (SESSION_COOKIE_AGE, refreshed on every request) is only a hint to
the browser; these checks are what a shared clinic desktop relies on. Both limits are read
from settings on every request, so they can be changed without a restart in tests.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.db import connection
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve, reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.http import urlencode

from core.otp.policy import step_owed
from core.otp.views import step_url

STARTED_KEY = "paincohort_session_started"
LAST_SEEN_KEY = "paincohort_last_seen"


@receiver(user_logged_in, dispatch_uid="paincohort_session_started")
def _start_session_clock(sender, request, user, **kwargs) -> None:
    # A fresh sign-in starts a fresh absolute lifetime, even on a reused session.
    if request is not None and hasattr(request, "session"):
        now = time.time()
        request.session[STARTED_KEY] = now
        request.session[LAST_SEEN_KEY] = now


def session_expiry_reason(*, started: float, last_seen: float, now: float) -> str:
    """Why the session has expired, or "" if it is still valid."""
    if now - last_seen > settings.SESSION_IDLE_TIMEOUT_SECONDS:
        minutes = settings.SESSION_IDLE_TIMEOUT_SECONDS // 60
        return f"You were signed out after {minutes} minutes without activity."
    if now - started > settings.SESSION_ABSOLUTE_LIFETIME_SECONDS:
        hours = settings.SESSION_ABSOLUTE_LIFETIME_SECONDS / 3600
        return f"You were signed out: a session lasts at most {hours:g} hours."
    return ""


class SessionTimeoutMiddleware:
    """Sign out a user whose session has been idle too long or has lived too long."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            expired = self._check(request)
            if expired:
                logout(request)
                messages.info(request, expired)
                login_url = reverse(settings.LOGIN_URL)
                return redirect(f"{login_url}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> str:
        now = time.time()
        session = request.session
        started = session.setdefault(STARTED_KEY, now)
        reason = session_expiry_reason(started=started,
                                       last_seen=session.get(LAST_SEEN_KEY, now), now=now)
        if not reason:
            session[LAST_SEEN_KEY] = now
        return reason


class NoStoreForSignedInMiddleware:
    """`Cache-Control: no-store, private` on every page a signed-in user gets and on every
    download, so that nothing of a patient stays in a shared desktop's browser cache or in
    a proxy after sign-out.

    Placed after AuthenticationMiddleware. Static files never reach it (WhiteNoise answers
    them first) and stay cacheable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Asked before the view: the sign-out page is answered to a user no longer signed in.
        signed_in = request.user.is_authenticated
        response = self.get_response(request)
        if signed_in or response.has_header("Content-Disposition"):
            add_never_cache_headers(response)
            patch_cache_control(response, private=True)
        return response


class TwoFactorMiddleware:
    """Until the second factor is given, a signed-in user gets only the sign-in and
    sign-out pages, the two-factor pages, password reset and /health/: every other page
    (the admin's too) redirects to the code page, or to the set-up page for a user who
    must add an authenticator (core.otp.policy.step_owed).

    Placed after django-otp's OTPMiddleware (which tells whether the session is verified)
    and after SessionTimeoutMiddleware. Costs no query for a verified session.
    """

    OPEN_PAGES = frozenset({
        "login", "logout", "password_reset", "password_reset_done", "password_reset_confirm",
        "password_reset_complete", "health", "two_factor_verify", "two_factor_setup",
        "admin:logout",
    })

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        step = step_owed(request.user)
        if step and not self._open(request.path_info):
            return redirect(step_url(step, request.get_full_path()))
        return self.get_response(request)

    def _open(self, path: str) -> bool:
        if path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return True
        try:
            return resolve(path).view_name in self.OPEN_PAGES
        except Resolver404:
            return False


# Statements that store what a user entered. Bookkeeping every request may write (the
# session, sign-in records, the access log of a page read, guess counts) does not count.
_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([\w.]+)"?', re.IGNORECASE)
BOOKKEEPING_TABLES = ("django_session", "axes_", "patients_patientaccesslog",
                      "selfcompletion_lookupfailure")
SAVED_ERROR_TEXT = ("Your changes were saved, but the next page could not be shown. "
                    "Do not enter them again: open the record to check it.")


def _stores_data(sql: str) -> bool:
    match = _WRITE.match(sql)
    return bool(match) and not match.group(1).lower().startswith(BOOKKEEPING_TABLES)


class HonestErrorMiddleware:
    """A failed request says whether anything it wrote was committed (issue 15).

    templates/500.html says nothing was saved; that is true only while no write of this
    request committed. This middleware watches the request's statements and, when the
    answer is a 500 after a committed write, answers templates/500_saved.html instead:
    the data are stored, so a nurse must not key them again. First in MIDDLEWARE, so that
    it sees every other middleware's writes and errors.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        committed: list[str] = []

        def observe(execute, sql, params, many, context):
            result = execute(sql, params, many, context)
            if _stores_data(sql):
                if context["connection"].in_atomic_block:
                    context["connection"].on_commit(lambda: committed.append(sql), robust=True)
                else:  # autocommit: the statement has committed already
                    committed.append(sql)
            return result

        with connection.execute_wrapper(observe):
            response = self.get_response(request)
        if response.status_code == 500 and committed:
            return _saved_error_page()
        return response


def _saved_error_page() -> HttpResponse:
    try:
        return HttpResponseServerError(render_to_string("500_saved.html"))
    except Exception:  # noqa: BLE001 - the page must answer, even without its template
        return HttpResponseServerError(SAVED_ERROR_TEXT, content_type="text/plain")


PERMISSIONS_POLICY = ("camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
                      "interest-cohort=()")


class PermissionsPolicyMiddleware:
    """`Permissions-Policy` on every response: no page of ours needs a device or payment."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
