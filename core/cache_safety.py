"""The cache may fail; a request must not. Every cache call on a request path, and every
after-commit cache write, goes through `attempt`: a failing or slow cache (its socket
timeouts are set in settings, CACHES OPTIONS) is logged, counted, and answered with the
caller's fallback instead of an exception.

After a failure this process leaves the cache alone for RETRY_AFTER_SECONDS, so that a
cache that answers slowly costs one timeout, not one per call. /health/ reports
"degraded" while the cache fails (core.health.check_cache asks it directly).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

logger = logging.getLogger("paincohort.cache")
RETRY_AFTER_SECONDS = 5.0
T = TypeVar("T")


class _State:
    """This process's record of cache failures (per process: each worker has its own)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failures = 0
        self.last_failure = ""
        self.down_until = 0.0

    def failed(self, what: str, error: Exception) -> None:
        with self.lock:
            self.failures += 1
            self.last_failure = f"{what}: {type(error).__name__}"
            self.down_until = time.monotonic() + RETRY_AFTER_SECONDS

    def resting(self) -> bool:
        return time.monotonic() < self.down_until

    def reset(self) -> None:
        with self.lock:
            self.failures, self.last_failure, self.down_until = 0, "", 0.0


state = _State()


def attempt(what: str, operation: Callable[[], T], *, fallback: T) -> T:
    """operation() (a cache call), or fallback if the cache fails or was failing just now."""
    if state.resting():
        return fallback
    try:
        return operation()
    except Exception as error:  # noqa: BLE001 - any cache fault: connection, timeout, disk
        state.failed(what, error)
        logger.warning("cache unavailable (%s): %s: %s; carrying on without it",
                       what, type(error).__name__, error)
        return fallback


def cache_available() -> bool:
    """A live round trip to the cache, whether or not it failed recently (for /health/)."""
    try:
        cache.set("paincohort:health-probe", 1, 10)
        ok = cache.get("paincohort:health-probe") == 1
    except Exception as error:  # noqa: BLE001 - any cache fault means degraded
        state.failed("health probe", error)
        return False
    return ok
