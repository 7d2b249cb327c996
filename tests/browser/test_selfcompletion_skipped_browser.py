"""Issue 14, the data-loss defect, in a real browser: a patient on the home link leaves two
BPI items blank and sends. The questionnaire is complete (not a draft), scored by the
missing-item rules, in the cohort export, counted on the dashboard as a link completion,
and the nurse's "Confirm checked" shows it Complete."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from questionnaires.instruments import INSTRUMENTS
from questionnaires.models import Administration
from selfcompletion.services import followup_link_ensure
from tests.browser.pages import PHONE, axe_check, sign_in
from tests.factories import enrol_patient, full_answers, make_user, save_administration

pytestmark = pytest.mark.django_db(transaction=True)

# Severity 7, 3, 5, 6 (INSTRUMENTS.md: mean 5.25); interference 4, 5, -, 6, -, 2, 7 with
# walking and relations left blank: 5 of 7 answered, mean (4 + 5 + 6 + 2 + 7) / 5 = 4.8.
ANSWERS = {**full_answers(bpi=0, ppic=4, pih=5), "bpi_worst": 7, "bpi_least": 3,
           "bpi_average": 5, "bpi_now": 6, "bpi_general_activity": 4, "bpi_mood": 5,
           "bpi_work": 6, "bpi_sleep": 2, "bpi_enjoyment": 7}
BLANK = frozenset({"bpi_walking", "bpi_relations"})


def _answer_leaving_blanks(page, instrument) -> None:
    for item in instrument.items:
        if item.code not in BLANK:
            page.locator(f"#item-{item.code}").locator(
                f"label:has(input[value='{ANSWERS[item.code]}'])").tap()
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("^(Continue|Check your answers)$")).tap()


def _cohort_export_rows(clinic) -> list[dict[str, str]]:
    client = Client()
    client.force_login(make_user("stats", [clinic], "statistician"))
    response = client.get(reverse("analysis:download", kwargs={"file": "cohort_csv"}))
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_a_link_sent_with_two_bpi_items_blank_is_complete_everywhere(
        live_server, new_page, nurse_a, clinic_a, researcher):
    patient = enrol_patient(clinic=clinic_a, by=nurse_a,
                            consented_on=timezone.localdate() - dt.timedelta(days=100))
    save_administration(patient, by=nurse_a)
    _, path = followup_link_ensure(patient=patient, by=nurse_a)

    phone = new_page(PHONE)
    phone.goto(f"{live_server.url}{path}")
    phone.get_by_role("link", name="Start").tap()
    for instrument in INSTRUMENTS:
        _answer_leaving_blanks(phone, instrument)
    expect(phone.get_by_role("heading", level=1)).to_have_text("Check your answers")
    axe_check(phone)
    phone.get_by_role("button", name="Send my answers").tap()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Thank you")

    stored = Administration.objects.get(patient=patient, timepoint="followup")
    assert (stored.source, stored.status) == ("link", "complete")
    assert stored.bpi_walking is None and stored.bpi_relations is None
    assert stored.missing_reasons == {"bpi_relations": "not_answered",
                                      "bpi_walking": "not_answered"}
    assert stored.bpi_severity == pytest.approx(5.25)
    assert stored.bpi_interference == pytest.approx(4.8) and stored.bpi_interference_n == 5

    nurse = new_page()
    sign_in(nurse, live_server, nurse_a)
    nurse.goto(f"{live_server.url}/patients/{patient.study_id}/")
    nurse.get_by_role("button", name="Confirm checked 3-month follow-up").click()
    card = nurse.locator(".admin-card").filter(
        has=nurse.get_by_role("heading", name="3-month follow-up"))
    expect(card).to_contain_text("Complete")
    expect(card).to_contain_text(f"checked by {nurse_a.get_username()}")
    expect(card).not_to_contain_text("Draft")
    axe_check(nurse)

    rows = [row for row in _cohort_export_rows(clinic_a)
            if row["study_id"] == patient.study_id and row["timepoint"] == "followup"]
    assert len(rows) == 1 and rows[0]["bpi_walking"] == "" and rows[0]["bpi_relations"] == ""
    assert float(rows[0]["bpi_interference"]) == pytest.approx(4.8)

    dashboard = new_page()
    sign_in(dashboard, live_server, researcher)
    dashboard.goto(f"{live_server.url}/analysis/")
    by_link = dashboard.locator("#outreach").get_by_test_id("outreach-mode-table").get_by_role(
        "row").filter(has_text="By the patient from a link")
    expect(by_link.locator("td").first).to_have_text("1")
