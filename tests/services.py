"""What a test needs of the services outside Django: skip without them, except in CI."""
from __future__ import annotations

import os

import pytest
from django.db import connection

# CI sets it: a test that needs a service it cannot reach fails there instead of skipping.
REQUIRE_SERVICES = os.environ.get("PAINCOHORT_REQUIRE_SERVICES") == "1"


def skip_or_fail(why: str) -> None:
    """Skip the test because of `why`, or fail it where the services are required."""
    if REQUIRE_SERVICES:
        pytest.fail(f"PAINCOHORT_REQUIRE_SERVICES=1 but the test {why}")
    pytest.skip(why)


def require_postgresql(why: str = "needs PostgreSQL") -> None:
    """Concurrency and trigger tests: SQLite serialises writers and has no such triggers."""
    if connection.vendor != "postgresql":
        skip_or_fail(why)
