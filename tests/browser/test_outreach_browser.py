"""What a nurse sees of self-completion and reminders on the worklist, and what a researcher
sees on the dashboard, in a real browser with axe-core (no serious or critical violation)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from reminders.models import MAX_ATTEMPTS, ReminderSend
from selfcompletion.services import (
    followup_link_ensure,
    invitation_draft_save,
    invitation_opened,
    invitation_submit,
)
from tests.browser.pages import axe_check, sign_in
from tests.factories import enrol_patient, full_answers, save_administration

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def outreach_cohort(clinic_a, nurse_a):
    """Four patients inside their follow-up window: a link completed and unchecked, a link
    opened, a reminder failing and retried, reminders given up; one with nothing."""
    baseline_on = timezone.localdate() - dt.timedelta(days=80)

    def patient():
        made = enrol_patient(clinic=clinic_a, by=nurse_a, consented_on=baseline_on)
        save_administration(made, by=nurse_a, administered_on=baseline_on)
        return made

    completed, opened, retried, given_up, _ = (patient() for _ in range(5))
    invitation, _ = followup_link_ensure(patient=completed, by=nurse_a)
    invitation = invitation_draft_save(invitation=invitation, answers=full_answers())
    invitation_submit(invitation=invitation)
    invitation_opened(followup_link_ensure(patient=opened, by=nurse_a)[0])
    now = timezone.now()
    ReminderSend.objects.bulk_create([
        ReminderSend(patient=completed, kind="window_open", status="sent", attempts=1,
                     sent_at=now),
        ReminderSend(patient=retried, kind="window_open", status="failed", attempts=2),
        ReminderSend(patient=given_up, kind="window_open", status="failed",
                     attempts=MAX_ATTEMPTS)])
    return completed, opened, retried, given_up


def test_worklist_column_says_each_state_in_words(live_server, page, nurse_a, outreach_cohort):
    completed, opened, retried, given_up = outreach_cohort
    sign_in(page, live_server, nurse_a)
    page.goto(f"{live_server.url}/clinics/A/worklist/")
    header = page.get_by_role("columnheader", name="Self-completion and reminders")
    expect(header).to_be_visible()
    row = page.get_by_role("row").filter(has_text=completed.study_id)
    expect(row).to_contain_text("Link: completed by the patient")
    expect(row).to_contain_text("Awaiting your check")
    expect(row).to_contain_text("Reminder sent")
    expect(page.get_by_role("row").filter(has_text=opened.study_id)).to_contain_text(
        "Link: opened")
    expect(page.get_by_role("row").filter(has_text=retried.study_id)).to_contain_text(
        "Reminder failed, will retry")
    expect(page.get_by_role("row").filter(has_text=given_up.study_id)).to_contain_text(
        "Reminders failed: not sent")
    axe_check(page)


def test_dashboard_section_by_mode_and_reminder(live_server, page, researcher, nurse_a,
                                                outreach_cohort):
    completed, *_ = outreach_cohort
    sign_in(page, live_server, researcher)
    page.goto(f"{live_server.url}/analysis/")
    page.get_by_role("link", name="Follow-up by mode").click()
    section = page.locator("#outreach")
    expect(section.get_by_role("heading", name="Follow-up by mode and reminders")).to_be_visible()
    by_link = section.get_by_test_id("outreach-mode-table").get_by_role("row").filter(
        has_text="By the patient from a link")
    expect(by_link).to_contain_text("100.0 %")   # the only completed follow-up
    window = section.get_by_test_id("outreach-reminder-table").get_by_role("row").filter(
        has_text="Window opened")
    expect(window).to_contain_text("1")
    regions = page.locator(".table-responsive[role=region]")
    names = [regions.nth(i).get_attribute("aria-label") for i in range(regions.count())]
    assert len(set(names)) == len(names) >= 3, names   # recruitment and the two new tables
    axe_check(page)
