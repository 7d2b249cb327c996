"""The clinic lockout in a real browser: a clinic's nurses share one browser and one
address. Nurse A's wrong passwords tell her the tries left and lock only her; nurse B
signs in from the same browser at once. axe runs on the sign-in page with the error shown
and on the locked page."""
from __future__ import annotations

import re

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from tests.browser.pages import axe_check, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def _wrong_password(page, live_server, user):
    sign_in(page, live_server, user, password="not-the-password")


def test_one_nurses_mistakes_lock_only_her(live_server, page, nurse_a, nurse_b):
    limit = django_settings.AXES_FAILURE_LIMIT
    for failure in range(1, 9):
        _wrong_password(page, live_server, nurse_a)
        left = limit - failure
        expect(page.locator(".error-summary")).to_contain_text(
            f"{left} {'try' if left == 1 else 'tries'} left before this account is locked")
    axe_check(page)  # the sign-in page with the error shown

    sign_in(page, live_server, nurse_b)  # same browser, same address
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_role("button", name="Sign out").click()

    for _ in range(limit - 8):
        _wrong_password(page, live_server, nurse_a)
    expect(page.get_by_role("heading", name="Sign-in locked")).to_be_visible()  # the 10th
    response = page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("nurse_a")
    page.get_by_label("Password").fill("any")
    with page.expect_response(re.compile(r"/accounts/login/")) as refused:
        page.get_by_role("button", name="Sign in").click()
    assert response.ok and refused.value.status == 429
    expect(page.get_by_role("heading", name="Sign-in locked")).to_be_visible()
    axe_check(page)

    sign_in(page, live_server, nurse_a)  # the right password is refused while locked
    expect(page.get_by_role("heading", name="Sign-in locked")).to_be_visible()
    sign_in(page, live_server, nurse_b)  # the colleague is still let in
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
