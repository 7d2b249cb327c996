"""Shared fixtures for browser tests: Debian's Chromium driven by Playwright, and axe-core.

Reuse: `browser` (one Chromium per test session), `page` (a fresh context per test),
`new_page()` (extra contexts, e.g. two nurses at once); `sign_in` and `axe_check` are in
tests/browser/pages.py.

Without /usr/bin/chromium the browser tests are skipped, unless
PAINCOHORT_REQUIRE_SERVICES=1 (CI), where a missing browser is an error.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.pages import DESKTOP
from tests.services import skip_or_fail

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made from the
# test itself would otherwise be refused as "async unsafe".
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        skip_or_fail(f"needs {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser):
    """Open pages in fresh browser contexts (separate cookies: separate users)."""
    contexts = []

    def make(device: dict | None = None):
        """A page on a desktop screen, or on `device` (pages.TABLET, pages.PHONE: touch)."""
        context = browser.new_context(**(device or DESKTOP))
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()
