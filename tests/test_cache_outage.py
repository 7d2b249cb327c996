"""A cache outage does not stop data entry (issue 15): with a real Redis server stopped,
or one that accepts connections and never answers, enrolment, a save, a correction and a
patient's link questionnaire each commit and say so; /health/ says "degraded"; the
link-guess limit still holds, counted in the database.

The transactions really commit here (transaction=True), so the after-commit cache bumps
run as they do in production.
"""
from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import time

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from core import cache_safety
from patients.models import Patient
from questionnaires.models import Administration, AdministrationSource
from selfcompletion.models import Invitation, LookupFailure
from tests.factories import full_answers

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_PORT = 6391
TODAY = timezone.localdate()


def _redis_cache(port: int) -> dict:
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                        "LOCATION": f"redis://127.0.0.1:{port}/0",
                        "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}}}


def _wait_for(port: int, *, up: bool) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            listening = True
        except OSError:
            listening = False
        if listening == up:
            return
        time.sleep(0.05)
    raise AssertionError(f"redis on {port} did not {'start' if up else 'stop'}")


@pytest.fixture
def fresh_cache_state():
    cache_safety.state.reset()
    yield cache_safety.state
    cache_safety.state.reset()


@pytest.fixture
def stopped_redis(fresh_cache_state):
    """A real Redis server of our own, used, then shut down: the cache points at it."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    subprocess.run(["redis-server", "--port", str(REDIS_PORT), "--save", "",
                    "--daemonize", "yes"], check=True, capture_output=True)
    _wait_for(REDIS_PORT, up=True)
    with override_settings(CACHES=_redis_cache(REDIS_PORT)):
        from django.core.cache import cache

        cache.set("analysis:live-counts:generation", 3, None)  # it really answered
        assert cache.get("analysis:live-counts:generation") == 3
        subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "shutdown", "nosave"],
                       capture_output=True)
        _wait_for(REDIS_PORT, up=False)
        yield fresh_cache_state


@pytest.fixture
def silent_cache(fresh_cache_state):
    """A server on loopback that accepts connections and never answers a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # the kernel completes the handshakes; nobody ever reads
    with override_settings(CACHES=_redis_cache(listener.getsockname()[1])):
        yield fresh_cache_state
    listener.close()


def _message(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def _enrol(client) -> object:
    return client.post(reverse("patients:enrol", args=["A"]), {
        "consent_given": "on", "consented_on": TODAY.isoformat(),
        "consent_form_version": "v1.2", "consent_taken_by": "Sister Jones"}, follow=True)


def _entry(client, study_id: str, answers: dict, **extra):
    from questionnaires.tests.entry_helpers import entry_data

    return client.post(reverse("questionnaires:entry", args=[study_id, "baseline"]),
                       entry_data(answers, administered_on=TODAY, **extra), follow=True)


def _data_entry_succeeds(client, nurse) -> None:
    client.force_login(nurse)
    enrolled = _enrol(client)
    assert enrolled.status_code == 200 and enrolled.redirect_chain[0][1] == 302
    assert "A-001 enrolled" in _message(enrolled)
    assert Patient.objects.filter(study_id="A-001").exists()

    saved = _entry(client, "A-001", full_answers())
    assert saved.redirect_chain[0][1] == 302
    assert "saved as complete" in _message(saved)
    administration = Administration.objects.get(patient__study_id="A-001")
    assert administration.is_complete and administration.bpi_worst == 5

    corrected = _entry(client, "A-001", full_answers() | {"bpi_worst": 9},
                       base_version=administration.version, reason="keying error")
    assert corrected.redirect_chain[0][1] == 302
    assert "saved as complete" in _message(corrected)
    administration.refresh_from_db()
    assert administration.bpi_worst == 9


def _link_questionnaire_succeeds(token: str, patient) -> None:
    phone = Client()
    assert phone.get(f"/p/{token}/").status_code == 200
    answers = full_answers(bpi=3, ppic=5, pih=7)
    for number, prefix in enumerate(("bpi", "ppic", "pih"), start=1):
        part = f"{reverse('selfcompletion:link_part', args=[token])}?part={number}"
        posted = phone.post(part, {**{k: str(v) for k, v in answers.items()
                                      if k.startswith(prefix)}, "action": "next"})
        assert posted.status_code == 302
    sent = phone.post(reverse("selfcompletion:link_review", args=[token]), follow=True)
    assert sent.redirect_chain[0][1] == 302
    assert b"Your answers have been sent" in sent.content
    followup = Administration.objects.get(patient=patient, timepoint="followup")
    assert followup.source == AdministrationSource.LINK and followup.is_complete


@pytest.fixture
def due_link(make_patient, make_administration, nurse_a):
    from selfcompletion.services import followup_link_ensure

    patient = make_patient(consented_on=TODAY - dt.timedelta(days=100))
    make_administration(patient)
    _, path = followup_link_ensure(patient=patient, by=nurse_a)
    return patient, path.strip("/").split("/")[-1]


def test_data_entry_commits_and_says_so_with_the_cache_server_stopped(
        client, nurse_a, stopped_redis):
    _data_entry_succeeds(client, nurse_a)
    assert stopped_redis.failures > 0  # the cache was really asked, and failed


def test_a_link_questionnaire_is_sent_with_the_cache_server_stopped(due_link, stopped_redis):
    patient, token = due_link
    _link_questionnaire_succeeds(token, patient)
    assert Invitation.objects.get().submitted_at is not None


def test_health_says_degraded_while_the_cache_is_down(client, stopped_redis):
    response = client.get(reverse("health"))
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert "cache unavailable" in response.json()["problem"]


def test_the_guess_limit_holds_in_the_database_while_the_cache_is_down(
        due_link, stopped_redis, settings):
    settings.SELFCOMPLETION_LOOKUP_FAILURE_LIMIT = 3
    _, token = due_link
    guesser = Client(REMOTE_ADDR="203.0.113.9")
    for attempt in range(3):
        assert guesser.get(f"/p/guess{attempt:040d}/").status_code == 404
    assert LookupFailure.objects.filter(address="203.0.113.9").count() == 3
    blocked = guesser.get(f"/p/{token}/")
    assert blocked.status_code == 429
    assert Client(REMOTE_ADDR="198.51.100.1").get(f"/p/{token}/").status_code == 200


def test_data_entry_and_a_link_succeed_with_a_cache_that_never_answers(
        client, nurse_a, due_link, silent_cache):
    patient, token = due_link
    _link_questionnaire_succeeds(token, patient)
    Patient.objects.exclude(pk=patient.pk).delete()
    client.force_login(nurse_a)
    enrolled = _enrol(client)
    assert "enrolled" in _message(enrolled)
    assert Patient.objects.count() == 2
    assert silent_cache.failures > 0  # bounded by the socket timeout, then left alone


def test_counts_are_bumped_again_once_the_cache_answers(make_patient, fresh_cache_state,
                                                       monkeypatch):
    """A change committed while the cache failed is not hidden by counts cached before it."""
    from django.core.cache import caches

    from analysis.pages import live_counts

    calls = []

    def count() -> int:
        calls.append(1)
        return len(calls)

    assert live_counts.recent("n", count, max_age=60) == 1
    assert live_counts.recent("n", count, max_age=60) == 1  # reused: nothing changed

    def refused(*args, **kwargs):
        raise ConnectionError("cache down")

    with monkeypatch.context() as down:
        down.setattr(caches["default"], "incr", refused)
        make_patient()  # commits; its bump fails quietly
    assert fresh_cache_state.failures == 1
    fresh_cache_state.reset()  # the cache answers again
    assert live_counts.recent("n", count, max_age=60) == 2  # counted afresh
