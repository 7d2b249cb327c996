"""The beat task with a fake clock and the locmem email backend: three reminders on their
days, never twice, none once the follow-up is closed, retried while the backend is down."""
from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse

from patients.services import patient_withdraw
from reminders import services
from reminders.models import MAX_ATTEMPTS, ReminderContact, ReminderSend, ReminderStatus
from reminders.services import contact_record
from reminders.tasks import send_due
from tests.factories import enrol_patient, save_administration

from .dates import (
    ADDRESS,
    BASELINE_ON,
    BEFORE_CLOSE,
    WEEK_LATER,
    WINDOW_CLOSES,
    WINDOW_OPENS,
    noon,
)

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)
FAILING = "reminders.tests.backends.FailingBackend"


def _run_on(clock, day: dt.date, hour: int = 12) -> None:
    clock.move_to(dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC))
    send_due()


def _kinds_sent() -> list[str]:
    return list(ReminderSend.objects.filter(status=ReminderStatus.SENT)
                .order_by("sent_at").values_list("kind", flat=True))


def test_three_reminders_on_their_days_and_none_before(clock, contact):
    sent_on = {}
    day = BASELINE_ON
    while day <= WINDOW_CLOSES + DAY * 3:
        before = len(mail.outbox)
        _run_on(clock, day)
        if len(mail.outbox) > before:
            sent_on[day] = mail.outbox[-1].subject
        day += DAY
    assert list(sent_on) == [WINDOW_OPENS, WEEK_LATER, BEFORE_CLOSE]
    assert _kinds_sent() == ["window_open", "week_later", "before_close"]
    assert [message.to for message in mail.outbox] == [[ADDRESS]] * 3
    # the self-completion app's one link, in all three
    links = {re.search(r"http://127\.0\.0\.1:8000/p/\S+", m.body)[0] for m in mail.outbox}
    assert len(links) == 1


def test_each_email_carries_the_link_and_the_stop_link(clock, contact, fake_links):
    _run_on(clock, WINDOW_OPENS)
    (message,) = mail.outbox
    assert f"https://study.example/p/token-{contact.patient_id}/" in message.body
    assert f"https://study.example/reminders/stop/token-{contact.patient_id}/" in message.body
    assert contact.patient.study_id not in message.body + message.subject


def test_a_repeated_run_sends_nothing_twice(clock, contact):
    for hour in (9, 10, 10, 11):
        _run_on(clock, WINDOW_OPENS, hour)
    assert len(mail.outbox) == 1
    send = ReminderSend.objects.get()
    assert (send.kind, send.status, send.attempts) == ("window_open", "sent", 1)


def test_an_address_recorded_late_gets_only_the_latest_reminder(clock, patient, nurse_a,
                                                               fake_links):
    clock.move_to(noon(WEEK_LATER + DAY))
    contact_record(patient=patient, email=ADDRESS, consented_on=WEEK_LATER, by=nurse_a)
    send_due()
    assert _kinds_sent() == ["week_later"]


def test_a_withdrawn_patient_gets_none_and_the_address_is_erased(clock, contact, nurse_a,
                                                                 fake_links):
    clock.move_to(noon(WINDOW_OPENS - DAY * 5))
    patient_withdraw(patient=contact.patient, withdrawn_on=WINDOW_OPENS - DAY * 5, reason="",
                     keep_collected_data=True, by=nurse_a)
    _run_on(clock, WINDOW_OPENS)
    assert mail.outbox == [] and fake_links == []
    contact.refresh_from_db()
    assert contact.email_encrypted == "" and contact.erased_at is not None
    assert not ReminderSend.objects.exists()


def test_a_completed_follow_up_gets_none_and_the_address_is_erased(clock, contact, nurse_a,
                                                                   fake_links):
    _run_on(clock, WINDOW_OPENS)
    clock.move_to(noon(WINDOW_OPENS + DAY * 2))
    save_administration(contact.patient, by=nurse_a, timepoint="followup",
                        administered_on=WINDOW_OPENS + DAY * 2)
    _run_on(clock, WEEK_LATER)
    assert _kinds_sent() == ["window_open"]
    contact.refresh_from_db()
    assert contact.email_encrypted == "" and contact.erased_at is not None


def test_a_stopped_patient_gets_none(clock, contact, fake_links):
    ReminderContact.objects.filter(pk=contact.pk).update(stopped_at=noon(WINDOW_OPENS - DAY))
    _run_on(clock, WINDOW_OPENS)
    assert mail.outbox == []


def test_a_patient_without_an_address_gets_none(clock, patient, fake_links):
    _run_on(clock, WINDOW_OPENS)
    assert mail.outbox == [] and fake_links == []


def test_backend_down_the_send_is_logged_failed_and_retried_by_the_next_run(
        clock, contact, fake_links, settings, caplog):
    settings.EMAIL_BACKEND = FAILING
    _run_on(clock, WINDOW_OPENS, 9)
    _run_on(clock, WINDOW_OPENS, 10)
    send = ReminderSend.objects.get()
    assert (send.status, send.attempts, send.sent_at) == ("failed", 2, None)
    assert "ConnectionRefusedError" in send.error
    assert ADDRESS not in send.error and ADDRESS not in caplog.text
    assert "failed (attempt 2 of" in caplog.text
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _run_on(clock, WINDOW_OPENS, 11)
    send.refresh_from_db()
    assert (send.status, send.attempts, send.error) == ("sent", 3, "")
    assert len(mail.outbox) == 1


def test_backend_down_gives_up_after_the_last_attempt(clock, contact, fake_links, settings,
                                                      client, nurse_a):
    settings.EMAIL_BACKEND = FAILING
    clock.move_to(noon(WINDOW_OPENS))
    for _hourly in range(MAX_ATTEMPTS + 2):
        send_due()
        clock.shift(dt.timedelta(hours=1))
    send = ReminderSend.objects.get()
    assert (send.status, send.attempts) == ("failed", MAX_ATTEMPTS)
    client.force_login(nurse_a)
    record = client.get(reverse("patients:detail", args=[contact.patient.study_id]))
    assert "Failed (gave up)" in record.content.decode()


def test_backend_down_for_one_patient_does_not_stop_the_others(
        clock, contact, fake_links, monkeypatch, clinic_a, nurse_a):
    other = enrol_patient(clinic=clinic_a, by=nurse_a, consented_on=BASELINE_ON)
    save_administration(other, by=nurse_a, administered_on=BASELINE_ON)
    contact_record(patient=other, email="other@example.org", consented_on=BASELINE_ON,
                   by=nurse_a)
    real = services.reminder_links

    def links_failing_for_the_first(patient):
        if patient.pk == contact.patient_id:
            raise RuntimeError("unexpected")
        return real(patient)

    monkeypatch.setattr(services, "reminder_links", links_failing_for_the_first)
    _run_on(clock, WINDOW_OPENS)
    assert [message.to for message in mail.outbox] == [["other@example.org"]]


def test_the_beat_schedule_names_the_registered_task(settings):
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["reminders-send-due"]
    assert entry["task"] == send_due.name == "reminders.send_due"
    assert send_due.name in app.tasks


def test_a_link_the_self_completion_app_refuses_is_logged_skipped_not_retried(
        clock, contact, monkeypatch):
    from django.core.exceptions import ValidationError

    def refused(patient):
        raise ValidationError("The follow-up window closed on 5 May 2026.")

    monkeypatch.setattr(services, "reminder_links", refused)
    _run_on(clock, WINDOW_OPENS, 9)
    _run_on(clock, WINDOW_OPENS, 10)
    send = ReminderSend.objects.get()
    assert (send.status, send.attempts, send.error) == (
        "skipped", 1, "The follow-up window closed on 5 May 2026.")
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_retry_a_failed_send_once(postgres_only, clock, contact, fake_links,
                                                   settings):
    """Two workers running the task at the same moment, retrying the same failed send:
    the row lock lets one send. (A first send is kept single by the unique constraint.)"""
    settings.EMAIL_BACKEND = "reminders.tests.backends.SlowBackend"
    clock.move_to(noon(WINDOW_OPENS))
    ReminderSend.objects.create(patient=contact.patient, kind="window_open", attempts=1,
                                status=ReminderStatus.FAILED, error="ConnectionRefusedError")
    start = threading.Barrier(2)

    def worker():
        start.wait(timeout=10)
        try:
            send_due()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(mail.outbox) == 1
    assert ReminderSend.objects.values_list("status", "attempts").get() == ("sent", 2)


def test_a_mail_server_that_never_answers_fails_the_send_at_the_timeout(
        clock, contact, fake_links, settings):
    """A silent server (it accepts, then says nothing) is given EMAIL_TIMEOUT seconds, not
    for ever. The server hangs up after 10 s, so without the timeout the send would end in
    a disconnection instead, and this test would fail on the error's name."""
    assert settings.EMAIL_TIMEOUT, "the default must bound a send, not wait for ever"
    silent = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept_and_wait() -> None:
        conn, _ = silent.accept()
        accepted.append(conn)
        time.sleep(10)
        conn.close()

    threading.Thread(target=accept_and_wait, daemon=True).start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", silent.getsockname()[1]
    settings.EMAIL_TIMEOUT = 1
    try:
        _run_on(clock, WINDOW_OPENS, 9)
    finally:
        silent.close()
    send = ReminderSend.objects.get()
    assert (send.status, send.attempts) == ("failed", 1)
    assert "timed out" in send.error
