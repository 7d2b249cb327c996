"""Verified keying in a real browser: a second nurse keys a chosen paper form again by
keyboard without seeing the first keying, one field differs, and she settles it against the
paper; axe-core runs on every page."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from questionnaires.models import Administration, KeyingStatus, KeyingVerification
from questionnaires.verification import keying_setting_update
from tests.browser.pages import axe_check, sign_in
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)

# The first keying (tests.factories.full_answers): BPI 5, PPiC 4, PIH 6 everywhere. The
# second keying reads bpi_worst as 7.
SECOND_KEYS = ["7"] + ["5"] * 10 + ["4"] * 11


def test_double_keying_with_one_difference_settled(live_server, page, clinic_a, data_manager,
                                                   make_patient, make_administration):
    keying_setting_update(mode="all", fraction=0.1, seed="s", by=data_manager)
    administration = make_administration(make_patient())  # keyed by nurse_a
    second = make_user("nurse_a2", [clinic_a], "nurse")
    sign_in(page, live_server, second)
    page.goto(f"{live_server.url}/questionnaires/keying/clinic/A/")
    axe_check(page)
    page.get_by_role("link", name="Key A-001 baseline again").click()
    axe_check(page)

    expect(page.locator("#id_administered_on")).to_be_focused()
    page.keyboard.type(administration.administered_on.strftime("%d/%m/%Y"))
    page.keyboard.press("Enter")
    for key in SECOND_KEYS:
        page.keyboard.press(key)
    expect(page.locator("input[name=pih_form_version]:checked")).to_be_focused()
    page.keyboard.press("Enter")
    for _ in range(12):
        page.keyboard.press("6")
    expect(page.get_by_role("button", name="Compare with the first keying")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_load_state()

    table = page.locator("[data-differences]")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("bpi_worst")
    axe_check(page)
    page.get_by_label("7 (second keying)").check()
    page.get_by_label("bpi_worst: Worst pain, last 24 h: reason").fill("paper shows 7")
    page.get_by_role("button", name="Settle").click()
    expect(page.locator("[data-keying-status]")).to_contain_text("Verified by a second keying")
    axe_check(page)
    stored = Administration.objects.get(pk=administration.pk)
    assert stored.bpi_worst == 7
    assert stored.bpi_severity == pytest.approx((7 + 5 + 5 + 5) / 4)
    assert KeyingVerification.objects.get().status == KeyingStatus.VERIFIED
