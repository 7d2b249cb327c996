"""Patient pages at phone widths (issue 14): each scale's buttons on one row, no
horizontal scroll, each item's own anchors, axe clean."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from questionnaires.instruments import INSTRUMENTS
from selfcompletion.services import followup_link_ensure
from tests.browser.pages import PHONE, answer_part, axe_check
from tests.factories import enrol_patient, full_answers, save_administration

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [390, 320])
def test_scales_stay_on_one_row_with_their_own_anchors(live_server, new_page, nurse_a,
                                                       clinic_a, width):
    patient = enrol_patient(clinic=clinic_a, by=nurse_a,
                            consented_on=timezone.localdate() - dt.timedelta(days=100))
    save_administration(patient, by=nurse_a)
    _, path = followup_link_ensure(patient=patient, by=nurse_a)
    page = new_page({**PHONE, "viewport": {"width": width, "height": 844}})
    page.goto(f"{live_server.url}{path}")
    page.get_by_role("link", name="Start").tap()
    for number, instrument in enumerate(INSTRUMENTS, start=1):
        expect(page.get_by_text(f"Part {number} of 3", exact=True)).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        for item in instrument.items:
            fieldset = page.locator(f"#item-{item.code}")
            tops = {round(box["y"]) for box in (
                fieldset.locator(".patient-choices label").nth(i).bounding_box()
                for i in range(len(item.values)))}
            assert len(tops) == 1, (item.code, tops)
            expect(fieldset.locator(".patient-item__anchors")).to_have_text(
                f"{item.anchors[0]} {item.anchors[1]}")
        axe_check(page)
        answer_part(page, instrument, full_answers())
    bpi = {item.code: item.anchors for item in INSTRUMENTS[0].items}
    assert bpi["bpi_worst"][1] == "10 = pain as bad as you can imagine"
    assert bpi["bpi_sleep"][1] == "10 = completely interferes"
