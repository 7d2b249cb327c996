"""Sign-in lockout for clinics behind one address (django-axes' handler, AXES_HANDLER).

A clinic's desktops and tablets reach the site from one address, so counting failures per
address locks every nurse of the clinic out because one of them (or a patient holding the
tablet) mistyped. Here the USER NAME is locked after AXES_FAILURE_LIMIT failures, and the
ADDRESS only after AXES_ADDRESS_FAILURE_LIMIT failures (of any user names: a guesser
trying many names), a limit far above one person's. Both count the failures within the
cool-off (AXES_COOLOFF_TIME). A refused sign-in (already locked) is not counted again
(AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT is off).
"""
from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone


def _recent():
    return AccessAttempt.objects.filter(
        attempt_time__gt=timezone.now() - settings.AXES_COOLOFF_TIME)


def _failures(**lookup) -> int:
    return _recent().filter(**lookup).aggregate(
        total=Sum("failures_since_start"))["total"] or 0


def failures_by_username(usernames) -> dict[str, int]:
    """Failed sign-ins within the cool-off per user name (one query), for the People page."""
    rows = (_recent().filter(username__in=list(usernames)).values("username")
            .annotate(total=Sum("failures_since_start")))
    return {row["username"]: row["total"] for row in rows}


def username_failures(username: str) -> int:
    """Failed sign-ins of this user name within the cool-off, from any address."""
    return _failures(username=username) if username else 0


def address_failures(address: str) -> int:
    return _failures(ip_address=address) if address else 0


def tries_left(username: str) -> int:
    return max(0, settings.AXES_FAILURE_LIMIT - username_failures(username))


def is_username_locked(username: str) -> bool:
    return username_failures(username) >= settings.AXES_FAILURE_LIMIT


class ClinicLockoutHandler(AxesDatabaseHandler):
    """The user name's failures count towards AXES_FAILURE_LIMIT; the address counts only
    once it has reached its own, looser limit (then it reports the limit itself)."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        failures = username_failures(get_client_username(request, credentials))
        address = getattr(request, "axes_ip_address", None)
        if address_failures(address) >= settings.AXES_ADDRESS_FAILURE_LIMIT:
            return max(failures, settings.AXES_FAILURE_LIMIT)
        return failures
