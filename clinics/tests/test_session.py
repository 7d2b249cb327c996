"""Idle timeout and absolute session lifetime, checked on the server."""
from __future__ import annotations

import time

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from core.middleware import LAST_SEEN_KEY, STARTED_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 30 * 60
    settings.SESSION_ABSOLUTE_LIFETIME_SECONDS = 10 * 3600
    return settings


def _age_session(client, *, idle: float, since_sign_in: float) -> None:
    session = client.session
    now = time.time()
    session[LAST_SEEN_KEY] = now - idle
    session[STARTED_KEY] = now - since_sign_in
    session.save()


def _worklist(client):
    return client.get(reverse("clinics:worklist", args=["A"]))


def test_sign_in_starts_the_session_clock(client, nurse_a, limits):
    before = time.time()
    client.force_login(nurse_a)
    assert client.session[STARTED_KEY] >= before


def test_activity_within_the_idle_timeout_keeps_the_user_signed_in(client, nurse_a, limits):
    client.force_login(nurse_a)
    _age_session(client, idle=29 * 60, since_sign_in=3600)
    assert _worklist(client).status_code == 200
    assert time.time() - client.session[LAST_SEEN_KEY] < 60  # the idle clock restarted


def test_idle_session_is_signed_out_and_sent_to_sign_in(client, nurse_a, limits):
    client.force_login(nurse_a)
    _age_session(client, idle=31 * 60, since_sign_in=3600)
    response = _worklist(client)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert "_auth_user_id" not in client.session
    assert "30 minutes without activity" in " ".join(
        str(m) for m in get_messages(response.wsgi_request))
    assert _worklist(client).status_code == 302  # still signed out


def test_session_older_than_its_absolute_lifetime_is_signed_out_even_if_active(
        client, nurse_a, limits):
    client.force_login(nurse_a)
    _age_session(client, idle=60, since_sign_in=10 * 3600 + 1)
    response = _worklist(client)
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_limits_come_from_settings(client, nurse_a, settings):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 60
    settings.SESSION_ABSOLUTE_LIFETIME_SECONDS = 3600
    client.force_login(nurse_a)
    _age_session(client, idle=61, since_sign_in=120)
    assert _worklist(client).status_code == 302


def test_sign_out_is_a_post_and_ends_the_session(client, nurse_a):
    client.force_login(nurse_a)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
