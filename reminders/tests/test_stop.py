"""The patient stops the reminders from their link: a confirm page, then a POST. The pages
are the same for any token, so they reveal nothing about the patient or the link."""
from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from reminders.tasks import send_due

from .dates import ADDRESS, WINDOW_OPENS, noon

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_of(monkeypatch, contact):
    """One known token, for the contact's patient (the invitation lookup faked)."""
    monkeypatch.setattr("reminders.services.patient_id_by_token",
                        lambda token: contact.patient_id if token == "known-token" else None)
    return "known-token"


def _stop_url(token: str) -> str:
    return reverse("reminders:stop", kwargs={"token": token})


def test_the_confirm_page_changes_nothing(client, contact, token_of):
    response = client.get(_stop_url(token_of))
    assert response.status_code == 200
    assert "Stop reminders" in response.content.decode()
    contact.refresh_from_db()
    assert contact.active


def test_posting_stops_the_reminders_and_erases_the_address(client, contact, token_of):
    response = client.post(_stop_url(token_of))
    assert response.status_code == 200
    assert "Reminders stopped" in response.content.decode()
    contact.refresh_from_db()
    assert contact.stopped_at is not None and contact.erased_at is not None
    assert contact.email == ""


def test_an_unknown_token_gets_the_same_pages_and_changes_nothing(client, contact, token_of):
    def page(method: str, token: str) -> bytes:
        return _without_csrf(getattr(client, method)(_stop_url(token)).content)

    unknown = "x" * 43
    assert page("get", unknown) == page("get", token_of)
    stopped_unknown = page("post", unknown)
    contact.refresh_from_db()
    assert contact.active
    assert stopped_unknown == page("post", token_of)


def test_the_pages_reveal_nothing_about_the_patient(client, contact, token_of):
    for response in (client.get(_stop_url(token_of)), client.post(_stop_url(token_of))):
        text = response.content.decode()
        assert contact.patient.study_id not in text and ADDRESS not in text
        assert "no-store" in response["Cache-Control"]


def _without_csrf(page: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", page)


def test_the_stop_link_in_a_real_email_stops_the_reminders(client, clock, contact):
    """With the self-completion app's own link (no fake): the emailed links work."""
    clock.move_to(noon(WINDOW_OPENS))
    send_due()
    (message,) = mail.outbox
    questionnaire, stop = re.findall(r"http://127\.0\.0\.1:8000(/\S+)", message.body)
    assert client.get(questionnaire).status_code == 200
    client.post(stop)
    contact.refresh_from_db()
    assert not contact.active and contact.stopped_at is not None
