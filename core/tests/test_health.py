"""Honest health: /health/ and `manage.py healthcheck` fail when the database (or the
broker) does not answer; the 500 and 404 pages are the site's own."""
from __future__ import annotations

import socket

import pytest
from django.core.management import CommandError, call_command
from django.db.utils import ConnectionHandler
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.views.defaults import server_error

from core import health


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def database_down(monkeypatch):
    """The check's connection is a real PostgreSQL connection to a closed port."""
    handler = ConnectionHandler({"default": {
        "ENGINE": "django.db.backends.postgresql", "NAME": "paincohort",
        "HOST": "127.0.0.1", "PORT": str(_closed_port()), "USER": "postgres",
        "OPTIONS": {"connect_timeout": 2}}})
    down = handler["default"]
    monkeypatch.setattr(health, "database_connection", lambda alias="default": down)
    yield down
    down.close()


@pytest.mark.django_db
def test_health_is_ok_while_the_database_answers(client):
    response = client.get(reverse("health"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_health_fails_while_the_database_is_down(client, database_down):
    response = client.get(reverse("health"))
    assert response.status_code == 503
    assert response.json()["problem"] == "database unreachable: OperationalError"
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_the_command_fails_while_the_database_is_down(database_down):
    with pytest.raises(CommandError, match="database unreachable"):
        call_command("healthcheck")


@pytest.mark.django_db
def test_the_command_checks_the_broker_when_asked():
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{_closed_port()}/0"):
        call_command("healthcheck")  # the broker is not asked without --broker
        with pytest.raises(CommandError, match="broker unreachable"):
            call_command("healthcheck", "--broker")


@pytest.mark.django_db
def test_without_a_broker_the_command_passes_with_broker_asked(capsys):
    with override_settings(CELERY_BROKER_URL=""):
        call_command("healthcheck", "--broker")
    assert capsys.readouterr().out.strip() == "ok"


def test_the_500_page_needs_no_database_and_no_context_processors():
    """Rendered as Django renders it after a fault (no request context), with database
    access blocked (no django_db mark): the site's page, not "Server Error (500)"."""
    response = server_error(RequestFactory().get("/patients/A-001/"))
    text = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in text and "Nothing was saved" in text
    assert "css/paincohort.css" in text and 'class="site-header"' in text


@pytest.mark.django_db
def test_the_404_page_is_the_sites(client, nurse_a):
    client.force_login(nurse_a)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Page not found" in response.text and 'class="site-header"' in response.text
    assert "Sign out" in response.text  # the signed-in navigation, as on every page
