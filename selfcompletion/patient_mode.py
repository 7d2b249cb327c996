"""Patient mode of a clinic tablet: the session flag, its idle limit, and the middleware
that keeps the patient inside their own questionnaire.

A nurse's session is switched into patient mode ("Hand to patient"); from then on every
page other than the tablet questionnaire answers with a redirect to it. Leaving needs the
nurse's password. A patient-mode session idle for SELFCOMPLETION_IDLE_SECONDS (a setting) is
signed out entirely and shows a neutral page (no patient, no data); the answers given so far stay
on the server with the invitation, and the nurse's next hand-over resumes them.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve

log = logging.getLogger("paincohort.tablet")

SESSION_KEY = "selfcompletion_patient_mode"
# Wrong "return to staff" passwords a tablet session allows before it is signed out: far
# below the sign-in lockout, and not counted towards it (a patient's guesses must not lock
# the nurse out of every device).
EXIT_MAX_FAILURES = 5
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


@dataclass(frozen=True)
class ExitOutcome:
    left: bool = False  # back in staff mode
    locked: bool = False  # too many wrong passwords: the session is signed out
    message: str = ""


def exit_password_check(request: HttpRequest, password: str) -> ExitOutcome:
    """The nurse's password, checked against her account directly (check_password), not by
    authenticate(): django-axes never sees it, so it counts only here, per tablet session."""
    nurse = request.user
    if password and nurse.check_password(password):
        leave(request)
        return ExitOutcome(left=True)
    state = request.session[SESSION_KEY]
    failures = state.get("exit_failures", 0) + 1
    log.warning("Wrong tablet exit password for %s: %d of %d in this tablet session",
                nurse.get_username(), failures, EXIT_MAX_FAILURES)
    if failures >= EXIT_MAX_FAILURES:
        logout(request)  # flushes the session: the patient's answers stay with the invitation
        return ExitOutcome(locked=True, message=(
            f"The tablet was locked after {failures} wrong passwords. A nurse must sign in "
            "again to use it."))
    request.session[SESSION_KEY] = {**state, "exit_failures": failures}
    left = EXIT_MAX_FAILURES - failures
    return ExitOutcome(message=(
        f"That password is not right. Staff only: ask the nurse to type it. {left} more "
        f"wrong password{'s' if left != 1 else ''} and the tablet is locked."))


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
