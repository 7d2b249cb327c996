"""Health checks: can this process reach what it needs? Used by /health/ (the web
container's health check) and `manage.py healthcheck` (the worker's)."""
from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError, connections


def database_connection(alias: str = "default"):
    """The connection the check uses (a seam for the tests' unreachable database)."""
    return connections[alias]


def check_database() -> str:
    """"" when a query answers, otherwise why not."""
    try:
        with database_connection().cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        return f"database unreachable: {type(error).__name__}"
    return ""


def check_broker() -> str:
    """"" when the Celery broker accepts a connection (or there is none: tasks run
    in-process), otherwise why not."""
    if not settings.CELERY_BROKER_URL:
        return ""
    from kombu import Connection

    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=0)
    except Exception as error:  # noqa: BLE001 - whatever fails to connect is unhealthy
        return f"broker unreachable: {type(error).__name__}"
    return ""


def check_cache() -> str:
    """"" when the cache answers a round trip, otherwise why not (with how many cache calls
    this process has carried on without since it started: core.cache_safety)."""
    from .cache_safety import cache_available, state

    if cache_available():
        return ""
    return f"cache unavailable ({state.failures} cache calls failed in this process)"
