"""Live counts on the researcher pages, counted once and reused until the data changes.

At national scale the recruitment counts and the follow-up-by-mode counts take 0.2-0.3 s
of SQL each. They are kept in the cache under a generation number that every committed
data change bumps (core.signals, connected in analysis/apps.py), so a page shows counts
that include every committed change, and is fast while nothing changes. `max_age` bounds
what the generation cannot see (reminder sends, the calendar moving on).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "analysis:live-counts:generation"
T = TypeVar("T")


def _generation() -> int:
    return cache.get_or_set(GENERATION_KEY, 0, None)


def recent(name: str, compute: Callable[[], T], *, max_age: int) -> T:
    """compute(), or its result from earlier in this data generation (at most max_age s)."""
    return cache.get_or_set(f"analysis:live-counts:{_generation()}:{name}", compute, max_age)


def forget_after_commit(**_: Any) -> None:
    """A data change: counts made before it are not reused once it commits."""
    transaction.on_commit(_bump)


def _bump() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # evicted or never set: any new number starts a new generation
        cache.set(GENERATION_KEY, 1, None)
