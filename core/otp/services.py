"""Writes of the two-factor sign-in: setting up an authenticator, checking a code, recovery
codes, and the demo logins' authenticator.

Every wrong code is logged (logger "paincohort.two_factor"), counted in the session and
reported to django-axes as a failed sign-in of the user: TWO_FACTOR_MAX_FAILURES wrong
codes sign the session out, and wrong codes add up with wrong passwords towards the
lockout (AXES_FAILURE_LIMIT). django-otp's own throttle (1, 2, 4, ... seconds between
tries after a failure) applies on top.
"""
from __future__ import annotations

import base64
import logging
from dataclasses import dataclass

import django_otp
from django.conf import settings
from django.contrib.auth import get_user_model, logout
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.client_ip import client_ip_address

log = logging.getLogger("paincohort.two_factor")

AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
FAILURES_KEY = "paincohort_two_factor_failures"
NEW_CODES_KEY = "paincohort_two_factor_new_codes"
# Printed by `manage.py seed_demo` for the demo logins: public, so never on a real study.
DEMO_TWO_FACTOR_KEY = "PAINCOHORTDEMOKEYNOTFORREALUSE22"


@dataclass(frozen=True)
class CodeOutcome:
    accepted: bool
    message: str = ""
    signed_out: bool = False


def normalised(code: str) -> str:
    """Codes as people type them: spaces and hyphens dropped, any case."""
    return "".join(code.split()).replace("-", "").lower()


def authenticator_pending(user) -> TOTPDevice:
    """The unconfirmed authenticator being set up. The same key on every reload of the
    page, so that a code scanned a minute ago stays valid."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME,
                                               confirmed=False)


def authenticator_confirm(request: HttpRequest, device: TOTPDevice, code: str) -> CodeOutcome:
    """Confirm the pending authenticator with a code from the app: the session is then
    verified, and ten new recovery codes wait in the session to be shown once."""
    refused = _throttled(device)
    if refused:
        return refused
    verified = django_otp.verify_token(request.user, device.persistent_id, normalised(code))
    if verified is None:
        return _wrong_code(request, "setup")
    with transaction.atomic():
        verified.confirmed = True
        verified.save(update_fields=["confirmed"])
        # One authenticator per user: older ones (a lost phone's) stop working now.
        TOTPDevice.objects.filter(user=request.user).exclude(pk=verified.pk).delete()
        request.session[NEW_CODES_KEY] = recovery_codes_replace(request.user)
    _accepted(request, verified, "authenticator set up")
    return CodeOutcome(True)


def second_factor_check(request: HttpRequest, code: str) -> CodeOutcome:
    """Check a code from the authenticator (six digits) or a recovery code (used once)."""
    code = normalised(code)
    device = _device_for(request.user, code)
    if device is None:
        return _wrong_code(request, "verify")
    refused = _throttled(device)
    if refused:
        return refused
    verified = django_otp.verify_token(request.user, device.persistent_id, code)
    if verified is None:
        return _wrong_code(request, "verify")
    if isinstance(verified, StaticDevice):
        left = verified.token_set.count()
        _accepted(request, verified, f"recovery code used, {left} left")
        return CodeOutcome(True, f"You signed in with a recovery code; it cannot be used "
                                 f"again. {left} recovery code{'s' if left != 1 else ''} left.")
    _accepted(request, verified, "authenticator code")
    return CodeOutcome(True)


def recovery_codes_replace(user) -> list[str]:
    """New recovery codes for the user; the old ones stop working."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.TWO_FACTOR_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    log.info("New recovery codes for %s", user.get_username())
    return codes


def two_factor_reset(user) -> None:
    """A lost phone: the user's authenticator and recovery codes are removed, so the next
    sign-in sets up a new authenticator. A data manager's act, after checking who asks."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    log.warning("Second factor reset for %s", user.get_username())


def demo_authenticators(usernames) -> str:
    """Demo logins only (seed_demo, which refuses to run without DEBUG): an authenticator
    with the published DEMO_TWO_FACTOR_KEY for each user who has none. Returns the key."""
    hex_key = base64.b32decode(DEMO_TWO_FACTOR_KEY).hex()
    for user in get_user_model().objects.filter(username__in=list(usernames)):
        if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            TOTPDevice.objects.create(user=user, name=f"{AUTHENTICATOR_NAME} (demo key)",
                                      key=hex_key, confirmed=True)
    return DEMO_TWO_FACTOR_KEY


def _device_for(user, code: str):
    """Six digits are an authenticator code; anything else may be a recovery code."""
    if code.isdigit() and len(code) == 6:
        model = TOTPDevice
    elif code.isalnum() and len(code) <= 16:
        model = StaticDevice
    else:
        return None
    return model.objects.devices_for_user(user, confirmed=True).first()


def _throttled(device) -> CodeOutcome | None:
    """django-otp's pause after a wrong code. Not counted as a failure: no code was tried."""
    allowed, why = device.verify_is_allowed()
    if allowed:
        return None
    wait = (why or {}).get("locked_until")
    seconds = max(1, round((wait - timezone.now()).total_seconds())) if wait else 1
    return CodeOutcome(False, f"Too many wrong codes in a row: wait {seconds} "
                              f"second{'s' if seconds != 1 else ''} and try again.")


def _accepted(request: HttpRequest, device, how: str) -> None:
    django_otp.login(request, device)
    request.session.pop(FAILURES_KEY, None)
    log.info("Second factor accepted for %s from %s (%s)", request.user.get_username(),
             client_ip_address(request), how)


def _wrong_code(request: HttpRequest, step: str) -> CodeOutcome:
    """Log and count a wrong code; sign the session out at the limit or on a lockout."""
    user, limit = request.user, settings.TWO_FACTOR_MAX_FAILURES
    failures = request.session.get(FAILURES_KEY, 0) + 1
    request.session[FAILURES_KEY] = failures
    log.warning("Wrong two-factor code (%s) for %s from %s: %d of %d in this session",
                step, user.get_username(), client_ip_address(request), failures, limit)
    # django-axes records it as a failed sign-in of this user from this address.
    user_login_failed.send(sender=__name__, request=request,
                           credentials={"username": user.get_username()})
    if failures >= limit or getattr(request, "axes_locked_out", False):
        logout(request)
        return CodeOutcome(False, f"You were signed out after {failures} wrong codes. "
                                  "Sign in again to try once more.", signed_out=True)
    left = limit - failures
    return CodeOutcome(False, f"That code is not right. {left} more wrong "
                              f"code{'s' if left != 1 else ''} and you are signed out.")
