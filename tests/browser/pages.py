"""What browser tests do on a page: sign in as a person would, and check it with axe."""
from __future__ import annotations

from tests.factories import PASSWORD

BLOCKING_IMPACTS = frozenset({"serious", "critical"})


def sign_in(page, live_server, user, password: str = PASSWORD) -> None:
    """Sign in through the login form, as a person would."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def axe_check(page) -> None:
    """Run axe-core on the current page; fail on serious or critical violations."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in blocking)
    assert not blocking, f"Accessibility violations on {page.url}:\n{report}"


DESKTOP = {"viewport": {"width": 1280, "height": 900}}
TABLET = {"viewport": {"width": 820, "height": 1180}, "has_touch": True, "is_mobile": True}
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


def answer_part(page, instrument, answers, *, skip: frozenset[str] = frozenset()) -> None:
    """On a patient's questionnaire page: tap each item's answer (or "Prefer not to
    answer" for the codes in `skip`), then Continue."""
    import re

    for item in instrument.items:
        fieldset = page.locator(f"#item-{item.code}")
        if item.code in skip:
            fieldset.locator("label:has(input[value='skip'])").tap()
        else:
            fieldset.locator(f"label:has(input[value='{answers[item.code]}'])").tap()
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("^(Continue|Check your answers)$")).tap()
