"""Guessing links or codes is slowed down per client address: after
SELFCOMPLETION_LOOKUP_FAILURE_LIMIT (a setting) failed lookups within LOOKUP_WINDOW_SECONDS
the address gets 429 until the window ends.

Counts live in Django's cache (shared between workers when the cache is); the address is
the one django-axes uses (core.client_ip), so a client cannot reset it with a header.
"""
from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from core.client_ip import client_ip_address

LOOKUP_WINDOW_SECONDS = 600


def _limit() -> int:
    return settings.SELFCOMPLETION_LOOKUP_FAILURE_LIMIT


def _key(request: HttpRequest) -> str:
    return f"selfcompletion:lookup-failures:{client_ip_address(request) or 'unknown'}"


def lookups_blocked(request: HttpRequest) -> bool:
    return cache.get(_key(request), 0) >= _limit()


def lookup_failed(request: HttpRequest) -> None:
    """Count a failed lookup; the window starts at the first failure."""
    key = _key(request)
    cache.add(key, 0, timeout=LOOKUP_WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        cache.set(key, 1, timeout=LOOKUP_WINDOW_SECONDS)
