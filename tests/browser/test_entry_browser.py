"""Nurse data entry in a real browser: keyboard entry, scores, corrections, history,
the outsider's 404, concurrent edits and double clicks. axe-core runs on every page."""
from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clinics.models import Membership, Role
from patients.models import Patient
from questionnaires.instruments import BPI, PIH, PPIC
from questionnaires.models import Administration
from tests.browser.pages import axe_check, sign_in
from tests.factories import PASSWORD, full_answers

pytestmark = pytest.mark.django_db(transaction=True)

# What the nurse keys, item by item ("N" = Not answered), and the scores that follow by
# the rules of INSTRUMENTS.md, worked out by hand:
# BPI severity (7+3+5+6)/4 = 5.25 -> 5.3; interference (4+5+6+10)/4 = 6.25 -> 6.3;
# PPiC ten 5s, one missing -> 5 x 11 = 55.0; PIH side effects 100 x 6/8 = 75.0;
# PIH knowledge: pih_2 missing -> missing (a 2-item domain needs both).
BPI_KEYS = ["7", "3", "5", "6", "4", "5", "N", "6", "N", "N", "10"]
PPIC_KEYS = ["5"] * 10 + ["N"]
PIH_KEYS = ["8", "N", "8", "8", "8", "8", "8", "8", "6", "6", "N", "8"]


def _key_items(page, keys: list[str]) -> None:
    """Each answer's keys; a chosen value moves focus to the next item by itself."""
    for key in keys:
        for char in key:
            page.keyboard.press(char)


def _score(page, code: str) -> str:
    return page.locator(f'[data-score="{code}"]').first.inner_text().strip()


def test_nurse_enrols_enters_by_keyboard_corrects_and_finds_the_change(
        live_server, page, nurse_a, clinic_a):
    sign_in(page, live_server, nurse_a)
    expect(page).to_have_url(re.compile(r"/clinics/A/worklist/$"))
    axe_check(page)

    page.get_by_role("link", name="Enrol a patient").click()
    axe_check(page)
    page.get_by_label("The patient has signed the consent form").check()
    page.get_by_label("Consent form version").fill("v2.1")
    page.get_by_label("Age at baseline (years)").fill("52")
    page.get_by_label("Gender").select_option("female")
    page.get_by_role("button", name="Enrol and enter baseline").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Baseline questionnaire")
    patient = Patient.objects.get()
    assert patient.study_id == "A-001"
    assert patient.consent_form_version == "v2.1"
    axe_check(page)

    # Keyboard only from here: the page opens on the date (today's, kept with Enter); each
    # answer's keys choose it and move to the next item; Enter keeps the PIH form version.
    expect(page.locator("#id_administered_on")).to_be_focused()
    page.keyboard.press("Enter")
    _key_items(page, BPI_KEYS)
    _key_items(page, PPIC_KEYS)
    expect(page.locator("input[name=pih_form_version]:checked")).to_be_focused()
    page.keyboard.press("Enter")
    _key_items(page, PIH_KEYS)
    expect(page.locator("button[value=complete]")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_load_state()

    expect(page.get_by_role("status").first).to_contain_text("saved as complete")
    assert _score(page, "bpi_severity") == "5.3"
    assert _score(page, "bpi_interference") == "6.3"
    assert _score(page, "ppic_partnership") == "55.0"
    assert _score(page, "pih_side_effects") == "75.0"
    expect(page.get_by_text("PIH knowledge: 1 of 2 items missing")).to_be_visible()
    stored = Administration.objects.get(patient=patient)
    assert (stored.bpi_enjoyment, stored.bpi_walking, stored.ppic_11) == (10, None, None)
    assert stored.is_complete
    axe_check(page)

    # Correct one item with a reason.
    page.locator("label[for=id_bpi_worst_8]").click()
    page.get_by_label("Reason for the change").fill("keying error: 8 on the paper form")
    page.get_by_role("button", name="Save correction").click()
    expect(page.get_by_role("status").first).to_contain_text("saved as complete")
    assert _score(page, "bpi_severity") == "5.5"  # (8 + 3 + 5 + 6) / 4

    page.get_by_role("link", name="Back to A-001").click()
    axe_check(page)
    page.get_by_role("link", name="Change history").click()
    row = page.locator("table.history tbody tr", has_text="Worst pain, last 24 h")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("nurse_a")
    expect(row).to_contain_text("keying error: 8 on the paper form")
    cells = row.locator("td").all_inner_texts()
    assert cells[4:6] == ["7", "8"]  # old value, new value
    axe_check(page)


def test_nurse_from_other_clinic_gets_404(live_server, page, nurse_b, make_patient):
    patient = make_patient()
    sign_in(page, live_server, nurse_b)
    for path in (f"/patients/{patient.study_id}/",
                 f"/questionnaires/{patient.study_id}/baseline/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    axe_check(page)


def _second_nurse_at_a(clinic_a):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="nurse_a2", password=PASSWORD)
    Membership.objects.create(user=user, clinic=clinic_a, role=Role.NURSE)
    return user


def test_second_of_two_concurrent_edits_is_refused_and_shows_the_other_change(
        live_server, new_page, nurse_a, clinic_a, make_patient, make_administration):
    patient = make_patient()
    make_administration(patient, complete=False)
    other = _second_nurse_at_a(clinic_a)
    first, second = new_page(), new_page()
    sign_in(first, live_server, nurse_a)
    sign_in(second, live_server, other)
    url = f"{live_server.url}/questionnaires/{patient.study_id}/baseline/"
    first.goto(url)
    second.goto(url)

    first.locator("label[for=id_bpi_worst_9]").click()
    first.get_by_role("button", name="Save as draft").click()
    expect(first.get_by_role("status").first).to_contain_text("draft saved")

    second.locator("label[for=id_bpi_least_1]").click()
    second.get_by_role("button", name="Save as draft").click()
    conflict = second.locator(".conflict")
    expect(conflict).to_contain_text("nurse_a changed this questionnaire")
    changed = conflict.locator("tr", has_text="Worst pain, last 24 h").locator("td")
    expect(changed).to_have_text(["5", "9"])
    # The second nurse's entry is kept in the form, not saved.
    expect(second.locator("#id_bpi_least_1")).to_be_checked()
    axe_check(second)
    stored = Administration.objects.get(patient=patient)
    assert (stored.bpi_worst, stored.bpi_least) == (9, 5)


def test_double_click_on_complete_creates_one_record(live_server, page, nurse_a,
                                                     make_patient):
    patient = make_patient()
    sign_in(page, live_server, nurse_a)
    page.goto(f"{live_server.url}/questionnaires/{patient.study_id}/baseline/")
    for code, value in full_answers(bpi=4, ppic=3, pih=5).items():
        page.locator(f"label[for=id_{code}_{value}]").click()
    page.get_by_role("button", name="Complete").dblclick()
    expect(page.get_by_role("status").first).to_contain_text("saved as complete")
    assert Administration.objects.filter(patient=patient).count() == 1
    assert Administration.history.filter(patient_id=patient.pk).count() == 1


def test_withdrawal_from_the_patient_page(live_server, page, nurse_a, make_patient,
                                          make_administration):
    patient = make_patient()
    make_administration(patient)
    sign_in(page, live_server, nurse_a)
    page.goto(f"{live_server.url}/patients/{patient.study_id}/")
    page.get_by_role("link", name="Record withdrawal").click()
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".error-summary")).to_be_focused()
    axe_check(page)
    page.get_by_label("Leave it out of every analysis and export").check()
    page.get_by_label("Date consent was withdrawn").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Continue").click()
    # the confirmation step says what will happen; nothing is written before it
    expect(page.get_by_role("heading", level=1)).to_contain_text("Confirm withdrawal")
    expect(page.get_by_text("left out of every analysis and export")).to_be_visible()
    assert not hasattr(Patient.objects.get(pk=patient.pk), "withdrawal")
    axe_check(page)
    page.get_by_role("button", name="Go back").click()
    expect(page.get_by_label("Leave it out of every analysis and export")).to_be_checked()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Confirm withdrawal").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Withdrawn")
    patient.refresh_from_db()
    assert patient.withdrawal.keep_collected_data is False
    axe_check(page)


def test_entry_errors_are_summarised_focused_and_accessible(live_server, page, nurse_a,
                                                            make_patient):
    patient = make_patient()
    sign_in(page, live_server, nurse_a)
    page.goto(f"{live_server.url}/questionnaires/{patient.study_id}/baseline/")
    page.locator("label[for=id_bpi_worst_7]").click()
    page.get_by_role("button", name="Complete").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    # One line per instrument (issue 14), linking to its first item left empty.
    expect(summary.locator("li")).to_have_count(3)
    page.get_by_role("link", name=re.compile("^BPI: 10 items not answered")).click()
    expect(page.locator("#id_bpi_least")).to_be_focused()
    expect(page.locator("#id_bpi_worst_7")).to_be_checked()  # what was keyed is kept
    axe_check(page)
    assert not Administration.objects.exists()


def test_researcher_is_refused_entry_politely(live_server, page, researcher, make_patient):
    patient = make_patient()
    sign_in(page, live_server, researcher)
    response = page.goto(f"{live_server.url}/questionnaires/{patient.study_id}/baseline/")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("You cannot do this")
    axe_check(page)


def test_pages_without_data_pass_axe(live_server, page, nurse_a, clinic_a, make_patient):
    make_patient()
    sign_in(page, live_server, nurse_a)
    for path in ("/clinics/A/worklist/?status=baseline", "/patients/A-001/history/",
                 "/patients/A-001/lost/", "/patients/A-001/characteristics/"):
        page.goto(f"{live_server.url}{path}")
        axe_check(page)
    page.goto(f"{live_server.url}/accounts/login/")
    axe_check(page)


assert {len(BPI_KEYS), len(PPIC_KEYS), len(PIH_KEYS)} == {len(BPI.items)} | {
    len(PPIC.items)} | {len(PIH.items)}


def test_enrolment_fields_of_one_row_keep_their_inputs_level(live_server, page, nurse_a,
                                                             clinic_a):
    """A label that wraps ("Age at baseline (years) (optional)") must not push its input
    below the others of its row."""
    page.set_viewport_size({"width": 1024, "height": 900})
    sign_in(page, live_server, nurse_a)
    page.get_by_role("link", name="Enrol a patient").click()
    rows = page.evaluate("""() => {
        const age = document.querySelector('input[name="age"]');
        const grid = age.closest('.field-grid');
        const rows = {};
        for (const field of grid.querySelectorAll(':scope > .field')) {
            const control = field.querySelector('input, select');
            if (!control) continue;
            const bottom = Math.round(field.getBoundingClientRect().bottom);
            (rows[bottom] = rows[bottom] || []).push(control.getBoundingClientRect().top);
        }
        return Object.values(rows);
    }""")
    assert any(len(tops) > 1 for tops in rows)  # the grid has rows of several fields
    for tops in rows:
        assert max(tops) - min(tops) <= 2, rows
