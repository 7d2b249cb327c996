"""Guessing links or codes is slowed down per client address: after
SELFCOMPLETION_LOOKUP_FAILURE_LIMIT (a setting) failed lookups within LOOKUP_WINDOW_SECONDS
the address gets 429 until the window ends.

Counts live in Django's cache (shared between workers when the cache is); the address is
the one django-axes uses (core.client_ip), so a client cannot reset it with a header.
While the cache fails (core.cache_safety) the counts go to the database instead
(LookupFailure): the limit still holds, and patients with a good link still get in. A
cache that fails mid-window splits the count between the two, at worst doubling it.
"""
from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone

from core.cache_safety import attempt
from core.client_ip import client_ip_address

from .models import LookupFailure

LOOKUP_WINDOW_SECONDS = 600


def _limit() -> int:
    return settings.SELFCOMPLETION_LOOKUP_FAILURE_LIMIT


def _address(request: HttpRequest) -> str:
    return (client_ip_address(request) or "unknown")[:64]


def _key(request: HttpRequest) -> str:
    return f"selfcompletion:lookup-failures:{_address(request)}"


def _window_start() -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=LOOKUP_WINDOW_SECONDS)


def _database_count(address: str) -> int:
    return LookupFailure.objects.filter(address=address, at__gte=_window_start()).count()


def lookups_blocked(request: HttpRequest) -> bool:
    counted = attempt("link-guess limit", lambda: cache.get(_key(request), 0), fallback=None)
    if counted is None:
        counted = 0
    elif not LookupFailure.objects.exists():  # the usual case: no outage rows to add
        return counted >= _limit()
    return counted + _database_count(_address(request)) >= _limit()


def lookup_failed(request: HttpRequest) -> None:
    """Count a failed lookup; the window starts at the first failure."""
    if not attempt("link-guess limit", lambda: _count_in_cache(_key(request)), fallback=False):
        LookupFailure.objects.filter(at__lt=_window_start()).delete()
        LookupFailure.objects.create(address=_address(request))


def _count_in_cache(key: str) -> bool:
    cache.add(key, 0, timeout=LOOKUP_WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        cache.set(key, 1, timeout=LOOKUP_WINDOW_SECONDS)
    return True
