"""The self-completion and reminder faults of issue 11 that the journeys do not drive, in a
real browser: two devices sending the same link, a tablet left in patient mode, the email
backend down, and a reminder due for a patient who has since withdrawn or completed.

The expired, reused, guessed and tampered links (and the withdrawn patient's link) are driven
by test_selfcompletion_browser.py; they are not repeated here.
"""
from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from playwright.sync_api import expect

from patients.services import patient_withdraw
from questionnaires.instruments import INSTRUMENTS
from questionnaires.models import Administration
from reminders.models import ReminderContact, ReminderSend, ReminderStatus
from reminders.services import contact_record
from reminders.tasks import send_due
from selfcompletion.models import Invitation
from selfcompletion.services import followup_link_ensure
from tests.browser.pages import PHONE, TABLET, answer_part, axe_check, sign_in
from tests.factories import enrol_patient, full_answers, save_administration

pytestmark = pytest.mark.django_db(transaction=True)
ANSWERS = full_answers(bpi=6, ppic=4, pih=5)


def _answer_part(page, instrument) -> None:
    answer_part(page, instrument, ANSWERS)

FAILING = f"{__name__}.FailingBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
# Day 80 after baseline: inside the follow-up window (days 76-120), the first reminder due.
BASELINE_DAYS_AGO = 80


class FailingBackend(BaseEmailBackend):
    """The mail server is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server unreachable")


def _in_followup_window(clinic, nurse):
    baseline_on = timezone.localdate() - dt.timedelta(days=BASELINE_DAYS_AGO)
    patient = enrol_patient(clinic=clinic, by=nurse, consented_on=baseline_on)
    save_administration(patient, by=nurse, administered_on=baseline_on)
    return patient


def _with_reminders(patient, nurse, email: str):
    contact_record(patient=patient, email=email, consented_on=patient.consented_on, by=nurse)
    return patient


def _worklist_cell(page, patient):
    """The patient's "Self-completion and reminders" cell on the worklist."""
    return page.get_by_role("row").filter(has_text=patient.study_id).locator("td.outreach")


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b}"   # the worklist's "5 Mar"


def test_two_devices_sending_the_same_link_store_one_administration(live_server, new_page,
                                                                     nurse_a, clinic_a):
    """Both phones answer everything and reach the review; one sends, then the other sends
    the form it already had. In a browser the two sends follow each other: their real
    simultaneity (the invitation row lock) is tested with threads on PostgreSQL in
    selfcompletion/tests/test_concurrency.py."""
    patient = _in_followup_window(clinic_a, nurse_a)
    _invitation, path = followup_link_ensure(patient=patient, by=nurse_a)
    first, second = new_page(PHONE), new_page(PHONE)
    for phone in (first, second):
        phone.goto(f"{live_server.url}{path}")
        phone.get_by_role("link", name="Start").tap()
    for phone in (first, second):
        for instrument in INSTRUMENTS:
            _answer_part(phone, instrument)
        expect(phone.get_by_role("heading", level=1)).to_have_text("Check your answers")

    first.get_by_role("button", name="Send my answers").tap()
    expect(first.get_by_role("heading", level=1)).to_have_text("Thank you")
    second.get_by_role("button", name="Send my answers").tap()
    expect(second.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(second.get_by_text("Your answers have been sent.")).to_be_visible()
    axe_check(second)
    for phone in (first, second):
        assert patient.study_id not in phone.content()
        assert clinic_a.name not in phone.content()
    (stored,) = Administration.objects.filter(patient=patient, timepoint="followup")
    assert (stored.source, stored.status, stored.bpi_worst) == ("link", "complete", 6)
    assert Invitation.objects.get(patient=patient, channel="link").administration == stored


def test_a_tablet_left_in_patient_mode_times_out_to_a_neutral_page(live_server, new_page,
                                                                   nurse_a, clinic_a,
                                                                   settings):
    patient = enrol_patient(clinic=clinic_a, by=nurse_a)
    tablet = new_page(TABLET)
    sign_in(tablet, live_server, nurse_a)
    record = f"{live_server.url}/patients/{patient.study_id}/"
    tablet.goto(record)
    tablet.get_by_role("button", name="Hand to patient (Baseline)").tap()
    tablet.get_by_role("link", name="Start").tap()
    _answer_part(tablet, INSTRUMENTS[0])
    expect(tablet.get_by_text("Part 2 of 3", exact=True)).to_be_visible()

    # The patient walks away; the limit is shortened only now, so answering cannot hit it.
    settings.SELFCOMPLETION_IDLE_SECONDS = 1
    time.sleep(1.5)
    _answer_part(tablet, INSTRUMENTS[1])
    expect(tablet).to_have_url(re.compile(r"/p/ended/$"))
    expect(tablet.get_by_role("heading", level=1)).to_have_text("This session has ended")
    assert patient.study_id not in tablet.content()
    axe_check(tablet)
    # Signed out entirely: neither the record nor the questionnaire comes back.
    tablet.goto(record)
    expect(tablet).to_have_url(re.compile(r"/accounts/login/"))
    tablet.goto(f"{live_server.url}/p/tablet/")
    expect(tablet).to_have_url(re.compile(r"/p/ended/$"))

    settings.SELFCOMPLETION_IDLE_SECONDS = 15 * 60
    sign_in(tablet, live_server, nurse_a)
    tablet.goto(record)
    expect(tablet.get_by_role("heading", level=1)).to_contain_text(patient.study_id)
    # The answers given before the timeout were kept: the next hand-over resumes them.
    tablet.get_by_role("button", name="Hand to patient (Baseline)").tap()
    expect(tablet.get_by_role("heading", level=1)).to_have_text("Welcome back")
    tablet.get_by_role("link", name="Continue").tap()
    expect(tablet.get_by_text("Part 2 of 3", exact=True)).to_be_visible()


def test_email_backend_down_the_worklist_says_failed_then_sent(live_server, page, nurse_a,
                                                               clinic_a, settings):
    patient = _with_reminders(_in_followup_window(clinic_a, nurse_a), nurse_a,
                              "jo@example.org")
    settings.EMAIL_BACKEND = FAILING
    send_due()
    send = ReminderSend.objects.get(patient=patient)
    assert (send.kind, send.status, send.attempts) == ("window_open", "failed", 1)
    assert mail.outbox == []

    sign_in(page, live_server, nurse_a)
    page.goto(f"{live_server.url}/clinics/A/worklist/")
    cell = _worklist_cell(page, patient)
    expect(cell).to_contain_text("Reminder failed, will retry (window opened, 1 attempt)")
    axe_check(page)
    page.get_by_role("link", name=patient.study_id, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(patient.study_id)
    expect(page.get_by_role("row").filter(has_text="Window opens")).to_contain_text(
        "Failed (will be retried)")

    settings.EMAIL_BACKEND = LOCMEM
    send_due()
    assert [message.to for message in mail.outbox] == [["jo@example.org"]]
    page.goto(f"{live_server.url}/clinics/A/worklist/")
    expect(cell).to_contain_text(f"Reminder sent {_day(timezone.localdate())} (window opened)")
    expect(cell).not_to_contain_text("failed")


def test_no_reminder_for_a_patient_who_withdrew_or_completed(live_server, page, nurse_a,
                                                             clinic_a):
    still_due, withdrawn, completed = (
        _with_reminders(_in_followup_window(clinic_a, nurse_a), nurse_a, f"{name}@example.org")
        for name in ("due", "withdrawn", "completed"))
    today = timezone.localdate()
    patient_withdraw(patient=withdrawn, withdrawn_on=today, reason="",
                     keep_collected_data=True, by=nurse_a)
    save_administration(completed, by=nurse_a, timepoint="followup", administered_on=today)

    send_due()
    # The patient still due gets theirs in the same run: the other two were left out.
    assert [message.to for message in mail.outbox] == [["due@example.org"]]
    assert not ReminderSend.objects.filter(patient__in=[withdrawn, completed]).exists()
    assert ReminderSend.objects.get(status=ReminderStatus.SENT).patient == still_due

    sign_in(page, live_server, nurse_a)
    page.goto(f"{live_server.url}/clinics/A/worklist/")
    expect(_worklist_cell(page, still_due)).to_contain_text("Reminder sent")
    for patient in (withdrawn, completed):
        expect(_worklist_cell(page, patient)).to_have_text("—")


def test_a_withdrawal_or_a_completed_follow_up_closes_the_reminders_at_once(
        live_server, page, nurse_a, clinic_a):
    """No hourly run in between: the change itself erases the address (core's signal)."""
    withdrawn, completed = (
        _with_reminders(_in_followup_window(clinic_a, nurse_a), nurse_a, f"{name}@example.org")
        for name in ("withdrawn", "completed"))
    today = timezone.localdate()
    patient_withdraw(patient=withdrawn, withdrawn_on=today, reason="",
                     keep_collected_data=True, by=nurse_a)
    save_administration(completed, by=nurse_a, timepoint="followup", administered_on=today)

    sign_in(page, live_server, nurse_a)
    page.goto(f"{live_server.url}/clinics/A/worklist/")
    for patient in (withdrawn, completed):
        expect(_worklist_cell(page, patient)).to_have_text("—", timeout=1_000)
    assert not ReminderContact.objects.filter(
        patient__in=[withdrawn, completed]).exclude(email_encrypted="").exists()
