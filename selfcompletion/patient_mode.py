"""Patient mode of a clinic tablet: the session flag, its idle limit, and the middleware
that keeps the patient inside their own questionnaire.

A nurse's session is switched into patient mode ("Hand to patient"); from then on every
page other than the tablet questionnaire answers with a redirect to it. Leaving needs the
nurse's password. A patient-mode session idle for SELFCOMPLETION_IDLE_SECONDS (a setting) is
signed out entirely and shows a neutral page (no patient, no data); the answers given so far stay
on the server with the invitation, and the nurse's next hand-over resumes them.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve

SESSION_KEY = "selfcompletion_patient_mode"
# The pages a patient-mode session may see (URL names in the selfcompletion namespace).
TABLET_PAGES = frozenset({"tablet", "tablet_part", "tablet_review", "tablet_done",
                          "tablet_exit", "ended"})


def idle_limit() -> int:
    return settings.SELFCOMPLETION_IDLE_SECONDS


def enter(request: HttpRequest, invitation_id: int) -> None:
    request.session[SESSION_KEY] = {"invitation": invitation_id, "last_seen": time.time()}


def leave(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def invitation_id(request: HttpRequest) -> int | None:
    state = request.session.get(SESSION_KEY)
    return state["invitation"] if state else None


class PatientModeMiddleware:
    """Placed after the authentication, session-limit and two-factor middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        state = request.session.get(SESSION_KEY)
        if not state:
            return self.get_response(request)
        if time.time() - state["last_seen"] > idle_limit():
            logout(request)  # flushes the session: no way back to the patient's data
            return redirect("selfcompletion:ended")
        request.session[SESSION_KEY] = {**state, "last_seen": time.time()}
        if not self._allowed(request.path_info):
            return redirect("selfcompletion:tablet")
        return self.get_response(request)

    @staticmethod
    def _allowed(path: str) -> bool:
        if path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return True
        try:
            match = resolve(path)
        except Resolver404:
            return False
        return match.namespace == "selfcompletion" and match.url_name in TABLET_PAGES
