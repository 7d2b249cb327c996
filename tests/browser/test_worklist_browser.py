"""The worklist reflows at 320, 390 and 640 CSS px (WCAG 1.4.10, issue 14): no horizontal
scroll, and Window, Status and the entry link of an overdue patient are on screen."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.pages import axe_check, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [320, 390, 640])
def test_worklist_reflows_without_horizontal_scroll(live_server, new_page, nurse_a,
                                                    make_patient, make_administration, width):
    today = timezone.localdate()
    overdue = make_patient(consented_on=today - dt.timedelta(days=100))
    make_administration(overdue, administered_on=today - dt.timedelta(days=100))
    make_patient()  # baseline to enter
    page = new_page({"viewport": {"width": width, "height": 800}})
    sign_in(page, live_server, nurse_a)
    page.goto(f"{live_server.url}/clinics/A/worklist/")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    row = page.locator("table.worklist tbody tr", has_text=overdue.study_id)
    link = row.get_by_role("link", name=f"Enter follow-up for {overdue.study_id}")
    for part in (row.locator("td[data-label=Window]"), row.get_by_text("Overdue"), link):
        box = part.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
    expect(link).to_be_visible()
    axe_check(page)


def test_patient_detail_fits_320_px(live_server, new_page, nurse_a, make_patient,
                                    make_administration):
    patient = make_patient()
    make_administration(patient)  # a questionnaire card with its scores table
    page = new_page({"viewport": {"width": 320, "height": 800}})
    sign_in(page, live_server, nurse_a)
    page.goto(f"{live_server.url}/patients/{patient.study_id}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    axe_check(page)


def test_worklist_at_320_px_puts_the_overdue_patient_first(live_server, new_page, nurse_a,
                                                            make_patient, make_administration):
    today = timezone.localdate()
    done = make_patient()  # enrolled first: the lowest study ID
    make_administration(done, administered_on=today - dt.timedelta(days=100))
    make_administration(done, timepoint="followup", administered_on=today)
    make_patient()  # baseline to enter
    overdue = make_patient(consented_on=today - dt.timedelta(days=100))
    make_administration(overdue, administered_on=today - dt.timedelta(days=100))
    page = new_page({"viewport": {"width": 320, "height": 800}})
    sign_in(page, live_server, nurse_a)
    page.goto(f"{live_server.url}/clinics/A/worklist/")
    first = page.locator("table.worklist tbody tr").first
    expect(first.get_by_role("rowheader")).to_have_text(overdue.study_id)
    expect(first.get_by_text("Overdue")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.get_by_label("Order by").select_option("study_id")
    page.get_by_role("button", name="Sort").click()
    expect(page.locator("table.worklist tbody tr").first.get_by_role("rowheader")
           ).to_have_text(done.study_id)
    axe_check(page)
