"""The patient's stop page in Chromium, from a real follow-up link's token, and the nurse's
address form: axe finds no serious or critical violation."""
from __future__ import annotations

import datetime as dt

import pytest
from django.urls import resolve, reverse
from django.utils import timezone

from reminders.models import ReminderContact
from reminders.services import contact_record
from selfcompletion.services import followup_link_ensure
from tests.browser.pages import axe_check, sign_in
from tests.factories import enrol_patient, save_administration

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def contact_in_window(clinic_a, nurse_a):
    """A patient whose follow-up window is open today, with a reminder address."""
    baseline_on = timezone.localdate() - dt.timedelta(days=80)
    patient = enrol_patient(clinic=clinic_a, by=nurse_a, consented_on=baseline_on)
    save_administration(patient, by=nurse_a, administered_on=baseline_on)
    return contact_record(patient=patient, email="jo@example.org", consented_on=baseline_on,
                          by=nurse_a)


def test_the_patient_stops_the_reminders_from_the_stop_page(live_server, page,  # noqa: F811
                                                            contact_in_window):
    _invitation, path = followup_link_ensure(patient=contact_in_window.patient)
    token = resolve(path).kwargs["token"]
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the email is read there
    page.goto(live_server.url + reverse("reminders:stop", kwargs={"token": token}))
    axe_check(page)
    page.get_by_role("button", name="Stop reminders").click()
    page.get_by_role("heading", name="Reminders stopped").wait_for()
    axe_check(page)
    contact_in_window.refresh_from_db()
    assert contact_in_window.stopped_at is not None and contact_in_window.email == ""


def test_the_nurse_form_and_panel_pass_axe(live_server, page, nurse_a,  # noqa: F811
                                           contact_in_window):
    sign_in(page, live_server, nurse_a)
    study_id = contact_in_window.patient.study_id
    page.goto(live_server.url + reverse("patients:detail", kwargs={"study_id": study_id}))
    page.get_by_role("heading", name="Email reminders").wait_for()
    axe_check(page)
    page.get_by_role("link", name="Change address").click()
    page.get_by_label("Email address for reminders").fill("new@example.org")
    page.get_by_label("The patient agreed to receive reminders by email").check()
    axe_check(page)
    page.get_by_role("button", name="Save address").click()
    page.get_by_text("new@example.org").wait_for()
    assert ReminderContact.objects.get(pk=contact_in_window.pk).email == "new@example.org"
