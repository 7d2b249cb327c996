"""Point the Celery app at a given broker for one test (or at none), and back."""
from __future__ import annotations

import os
from contextlib import contextmanager

import pytest
from django.test import override_settings
from kombu import pools

from config.celery import app as celery_app
from tests.services import REQUIRE_SERVICES

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@contextmanager
def broker(url: str):
    """Send tasks to `url` (not eagerly) inside the block; pools are rebuilt for it."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.task_always_eager, os.environ.get("CELERY_BROKER_URL")
    _reset_pools()
    # Celery prefers the CELERY_BROKER_URL environment variable (set in CI) to its conf
    os.environ["CELERY_BROKER_URL"] = url
    conf.broker_url, conf.task_always_eager = url, False
    try:
        with override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=url):
            yield celery_app
    finally:
        _reset_pools()
        conf.broker_url, conf.task_always_eager = saved[:2]
        if saved[2] is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved[2]


def _reset_pools() -> None:
    # kombu keeps pools in a registry keyed by connection: clear it, not just close them
    pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def redis_url_or_skip(db: int | None = None) -> str:
    """A Redis URL (CELERY_BROKER_URL's server, or 127.0.0.1), or skip when none answers.

    `db` picks a database number of the test's own, so that its messages meet no
    other consumer.
    """
    import redis

    url = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0"
    if not url.startswith("redis://"):
        pytest.skip("needs a Redis broker")
    if db is not None:
        url = f"{url.rsplit('/', 1)[0]}/{db}" if url.count("/") > 2 else f"{url}/{db}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.exceptions.RedisError:
        if REQUIRE_SERVICES:
            raise
        pytest.skip("Redis is not running")
    return url
