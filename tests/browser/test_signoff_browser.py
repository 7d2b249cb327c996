"""A data manager signs a record off, finds its questionnaire read-only, and unlocks it with
a reason, in a real browser; axe-core runs on every sign-off page."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from patients.models import Patient
from tests.browser.pages import axe_check, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_data_manager_signs_off_a_record_and_unlocks_it(live_server, page, data_manager,
                                                        make_patient, make_administration):
    patient = make_patient()
    make_administration(patient)
    sign_in(page, live_server, data_manager)
    page.goto(f"{live_server.url}/patients/A-001/sign-off/")
    axe_check(page)
    page.get_by_role("button", name="Sign off A-001").click()
    expect(page.locator("[data-signed-off]")).to_contain_text("Signed off on")
    axe_check(page)

    page.goto(f"{live_server.url}/questionnaires/A-001/baseline/")
    expect(page.locator("[data-signed-off]")).to_contain_text(
        "read-only until a data manager unlocks it")
    expect(page.locator("[data-entry-form]")).to_have_count(0)

    page.goto(f"{live_server.url}/patients/A-001/sign-off/")
    page.get_by_role("button", name="Unlock").click()
    expect(page.locator("[data-error-summary]")).to_contain_text(
        "Give the reason for unlocking the record.")
    axe_check(page)
    page.get_by_label("Reason for unlocking").fill("query 4: pain sites on paper")
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_text("A-001 unlocked: it can be changed again.")).to_be_visible()
    assert not Patient.objects.get(pk=patient.pk).is_signed_off

    page.goto(f"{live_server.url}/questionnaires/A-001/baseline/")
    expect(page.get_by_role("button", name=re.compile("Save correction"))).to_be_visible()


def test_bulk_sign_off_reports_the_skipped_record(live_server, page, data_manager,
                                                  make_patient, make_administration):
    make_administration(make_patient())
    make_patient()  # nothing entered: skipped
    sign_in(page, live_server, data_manager)
    page.goto(f"{live_server.url}/patients/clinic/A/sign-off/")
    axe_check(page)
    page.get_by_role("button", name="Sign off 1 record").click()
    expect(page.locator("[data-sign-off-result]")).to_contain_text("1 record signed off")
    expect(page.locator("[data-skipped]")).to_contain_text("no questionnaire entered")
    axe_check(page)
