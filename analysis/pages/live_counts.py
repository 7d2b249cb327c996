"""Live counts on the researcher pages, counted once and reused until the data changes.

At national scale the recruitment counts and the follow-up-by-mode counts take 0.2-0.3 s
of SQL each. They are kept in the cache under a generation number that every committed
data change bumps (core.signals, connected in analysis/apps.py), so a page shows counts
that include every committed change, and is fast while nothing changes. `max_age` bounds
what the generation cannot see (reminder sends, the calendar moving on).

The cache is a convenience here, never a condition (core.cache_safety): while it fails the
counts are computed on every page, and a data change whose bump failed is bumped again
by this process as soon as the cache answers, so no count older than the change is reused.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction

from core.cache_safety import attempt

GENERATION_KEY = "analysis:live-counts:generation"
T = TypeVar("T")
_MISSING = object()
_bump_owed = False  # this process committed a change whose bump the cache refused


def _generation() -> int | None:
    if _bump_owed:
        _bump()
    if _bump_owed:
        return None
    return attempt("live counts", lambda: cache.get_or_set(GENERATION_KEY, 0, None),
                   fallback=None)


def recent(name: str, compute: Callable[[], T], *, max_age: int) -> T:
    """compute(), or its result from earlier in this data generation (at most max_age s)."""
    generation = _generation()
    if generation is None:
        return compute()
    key = f"analysis:live-counts:{generation}:{name}"
    value = attempt("live counts", lambda: cache.get(key, _MISSING), fallback=_MISSING)
    if value is _MISSING:
        value = compute()
        attempt("live counts", lambda: cache.set(key, value, max_age), fallback=None)
    return value


def forget_after_commit(**_: Any) -> None:
    """A data change: counts made before it are not reused once it commits."""
    transaction.on_commit(_bump, robust=True)  # robust: a failing hook never fails the request


def _bump() -> None:
    """Start a new generation; never raises (it runs after the data committed)."""
    global _bump_owed
    _bump_owed = not attempt("live counts bump", _incr_generation, fallback=False)


def _incr_generation() -> bool:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # evicted or never set: any new number starts a new generation
        cache.set(GENERATION_KEY, 1, None)
    return True
