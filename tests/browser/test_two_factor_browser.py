"""Two-factor sign-in in a real browser: first sign-in sets up the authenticator from the
key the page shows, keeps the recovery codes, and the next sign-in asks for a code. The
codes are computed with django_otp.oath.totp, as an authenticator app would. axe-core
runs on every two-factor page."""
from __future__ import annotations

import base64
import re

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from tests.browser.pages import axe_check, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def _code(secret: str, ahead: int = 0) -> str:
    return f"{totp(base64.b32decode(secret.replace(' ', '')), drift=ahead):06d}"


def test_first_sign_in_sets_up_the_authenticator_and_the_next_asks_for_a_code(
        live_server, page, settings, statistician):
    settings.TWO_FACTOR_REQUIRED = True
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # no pause after the wrong code (tested elsewhere)
    settings.OTP_TOTP_SYNC = False  # no drift learnt at a 30 s boundary: _code(ahead=1) holds
    sign_in(page, live_server, statistician)
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/setup/"))
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    axe_check(page)
    secret = page.locator("[data-two-factor-key]").inner_text()
    page.get_by_label("Code").fill(_code(secret))
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
    assert page.locator("[data-recovery-codes] li").count() == 10
    axe_check(page)
    page.get_by_role("link", name="I have kept them: continue").click()
    expect(page).to_have_url(re.compile(r"/analysis/"))

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, statistician)
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/\?next="))
    axe_check(page)
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("That code is not right").first).to_be_visible()
    # The code a step ahead: the set-up's code may not be used twice.
    page.get_by_label("Code").fill(_code(secret, ahead=1))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/analysis/"))
