"""Keyboard-only nurse entry (issue 11, point 5): a whole paper form, date + 34 items +
submit, in at most 50 keystrokes, and the rules that make it safe: Enter never submits, a key
outside an item's range is refused visibly and announced, "1" on a 0-10 item waits for "0".
Issue 14: the PIH form version is keyed too (1 = current form, 2 = older form, as the help
box says), and after the save the heading and the saved message are in view.

The count is printed (run with -s to see it) and asserted; the keys are counted twice, as
pressed by the test and as keydown events received by the page.
"""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from questionnaires.instruments import BPI, PIH, PPIC
from questionnaires.models import Administration
from tests.browser.pages import axe_check, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

KEYSTROKE_BUDGET = 50

# The paper form, item by item as written on it ("N" = left blank). Two BPI answers of 10,
# "1" followed by another item's answer (no extra key: the next key goes to the next item),
# and a 0 on a PIH item.
PAPER_FORM = {
    "bpi": ["7", "1", "5", "6", "4", "10", "N", "1", "2", "N", "10"],
    "ppic": ["4", "5", "3", "5", "5", "2", "1", "5", "4", "N", "3"],
    "pih": ["8", "7", "6", "N", "8", "5", "0", "8", "3", "6", "8", "2"],
}
INSTRUMENTS = {"bpi": BPI, "ppic": PPIC, "pih": PIH}

COUNT_KEYDOWNS = """
window.__keydowns = 0;
window.addEventListener("keydown", (event) => { if (!event.repeat) window.__keydowns++; }, true);
"""


def _expected_answers() -> dict[str, int | None]:
    return {item.code: None if written == "N" else int(written)
            for name, written_items in PAPER_FORM.items()
            for item, written in zip(INSTRUMENTS[name].items, written_items, strict=True)}


class Keyboard:
    """Presses keys one at a time and counts them."""

    def __init__(self, page):
        self.page = page
        self.count = 0

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)
            self.count += 1

    def type_each(self, text: str) -> None:
        self.press(*text)


def _entry_url(live_server, patient) -> str:
    return f"{live_server.url}/questionnaires/{patient.study_id}/baseline/"


def test_whole_paper_form_in_at_most_50_keystrokes(live_server, page, nurse_a, make_patient):
    today = timezone.localdate()
    patient = make_patient(consented_on=today - dt.timedelta(days=30))
    written_on = today - dt.timedelta(days=3)
    sign_in(page, live_server, nurse_a)
    page.add_init_script(COUNT_KEYDOWNS)
    page.goto(_entry_url(live_server, patient))
    expect(page.locator("#id_administered_on")).to_be_focused()

    keys = Keyboard(page)
    keys.type_each(f"{written_on:%d/%m/%Y}")  # replaces today's date, selected on load
    keys.press("Enter")
    for answer in PAPER_FORM["bpi"] + PAPER_FORM["ppic"]:
        keys.type_each(answer)
    expect(page.locator("input[name=pih_form_version]:checked")).to_be_focused()
    keys.press("1")  # the PIH form version, as the help box says: 1 = the current form
    for answer in PAPER_FORM["pih"]:
        keys.type_each(answer)
    expect(page.locator("button[value=complete]")).to_be_focused()
    received = page.evaluate("window.__keydowns")
    keys.press("Enter")
    saved = page.get_by_role("status").filter(has_text="saved as complete")
    expect(saved).to_be_focused()
    _expect_in_view(page, saved)
    _expect_in_view(page, page.get_by_role("heading", level=1))

    print(f"\nKeyboard-only paper form (date + 34 items + submit): {keys.count} keystrokes "
          f"(budget {KEYSTROKE_BUDGET})")
    assert received == keys.count - 1  # every key but the submitting Enter reached the page
    assert keys.count <= KEYSTROKE_BUDGET
    stored = Administration.objects.get(patient=patient)
    assert stored.is_complete
    assert stored.administered_on == written_on
    assert stored.answers == _expected_answers()
    assert stored.pih_form_version == "current"


def _expect_in_view(page, locator) -> None:
    box = locator.bounding_box()
    scroll = page.evaluate("window.scrollY")
    height = page.viewport_size["height"]
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= height, (
        f"{box} not in the viewport (scrolled {scroll})")


def test_help_box_says_how_to_key_the_pih_form_version(live_server, page, nurse_a,
                                                       make_patient):
    sign_in(page, live_server, nurse_a)
    page.goto(_entry_url(live_server, make_patient()))
    help_box = page.locator("#keyboard-help")
    expect(help_box).to_contain_text("PIH form version")
    expect(help_box).to_contain_text("1 chooses the current form")
    expect(help_box).to_contain_text("2 the older form")


def test_older_form_keyed_with_2_and_its_items_follow(live_server, page, nurse_a,
                                                      make_patient):
    sign_in(page, live_server, nurse_a)
    patient = make_patient()
    page.goto(_entry_url(live_server, patient))
    page.locator("#id_ppic_11_3").focus()
    page.keyboard.press("3")  # the last PPiC item: on to the version
    expect(page.locator("input[name=pih_form_version]:checked")).to_be_focused()
    page.keyboard.press("2")
    expect(page.locator("input[name=pih_form_version][value=reversed]")).to_be_checked()
    assert _focused_item(page) == "id_pih_1"
    page.keyboard.press("6")
    expect(page.locator("#id_pih_1_6")).to_be_checked()
    assert _focused_item(page) == "id_pih_2"


def _focused_item(page) -> str:
    return page.evaluate("document.activeElement.closest('[data-item]')?.id || ''")


def test_enter_moves_on_wrong_keys_are_refused_and_one_waits_for_zero(
        live_server, page, nurse_a, make_patient):
    patient = make_patient()
    sign_in(page, live_server, nurse_a)
    page.goto(_entry_url(live_server, patient))
    live = page.locator("[data-entry-live]")

    page.keyboard.press("Enter")  # the date (today) kept
    assert _focused_item(page) == "id_bpi_worst"
    page.keyboard.press("Enter")  # an item left for later: moves on, nothing submitted
    assert _focused_item(page) == "id_bpi_least"
    page.keyboard.press("1")  # waits: 0 would make it 10
    expect(page.locator("#id_bpi_least_1")).to_be_checked()
    assert _focused_item(page) == "id_bpi_least"
    expect(page.locator("#id_bpi_least")).to_contain_text("type 0 now for 10")
    page.keyboard.press("Enter")  # keeps 1, moves on
    assert _focused_item(page) == "id_bpi_average"
    expect(page.locator("#id_bpi_least_1")).to_be_checked()

    page.locator("#id_ppic_1_1").focus()
    page.keyboard.press("4")
    assert _focused_item(page) == "id_ppic_2"
    page.keyboard.press("Shift+Tab")  # native Tab order still works
    assert _focused_item(page) == "id_ppic_1"
    page.keyboard.press("9")  # PPiC runs 1-5
    ppic_1 = page.locator("#id_ppic_1")
    expect(ppic_1).to_have_class("item item--answered item--refused")
    expect(ppic_1.locator("[data-item-message]")).to_have_text(
        'Understood my needs: "9" refused: choose 1-5 or N for "Not answered"; 4 kept.')
    expect(live).to_have_text(
        'Understood my needs: "9" refused: choose 1-5 or N for "Not answered"; 4 kept.')
    expect(page.locator("#id_ppic_1_4")).to_be_checked()
    assert _focused_item(page) == "id_ppic_1"
    axe_check(page)  # with the refusal shown
    page.keyboard.press("N")
    expect(page.locator("#id_ppic_1_na")).to_be_checked()
    expect(ppic_1.locator("[data-item-message]")).to_be_empty()
    assert _focused_item(page) == "id_ppic_2"

    page.locator("#id_pih_form_version_0").focus()
    page.keyboard.press("8")  # meant for pih_1: the version takes 1 or 2 only
    expect(live).to_contain_text('PIH form version: "8" refused: press 1 for Current form')
    expect(live).to_contain_text("press 2 for Older form")
    expect(page.locator("#id_pih_form_version")).to_contain_text('"8" refused')
    expect(page.locator("input[name=pih_form_version][value=current]")).to_be_checked()
    expect(page.locator("#id_pih_1_8")).not_to_be_checked()
    expect(page.locator("input[name=pih_form_version]:checked")).to_be_focused()
    axe_check(page)  # with the version's refusal shown

    assert page.url == _entry_url(live_server, patient)
    expect(page.locator(".error-summary")).to_have_count(0)
    assert not Administration.objects.exists()
