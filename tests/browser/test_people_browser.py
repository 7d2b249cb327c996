"""The People page in a real browser: a data manager invites a user, gives a study-wide
and a clinic role, deactivates them, resets a lost second factor and clears a sign-in
lock. Every People page is checked with axe, at desktop width and on a phone at 320 CSS
px without horizontal scrolling (WCAG 1.4.10)."""
from __future__ import annotations

import re

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from clinics.models import Membership
from core.models import PeopleChangeLog
from tests.browser.pages import DESKTOP, PHONE, axe_check, sign_in

pytestmark = pytest.mark.django_db(transaction=True)
NARROW_PHONE = {**PHONE, "viewport": {"width": 320, "height": 640}}


def _no_horizontal_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"{page.url} is {width} px wide at {viewport} px"


def _check(page) -> None:
    axe_check(page)
    if page.viewport_size["width"] <= 400:
        _no_horizontal_scroll(page)


def _lock(username: str) -> None:
    """Record the failures of a locked user name, as django-axes would."""
    AccessAttempt.objects.create(
        username=username, ip_address="127.0.0.1", user_agent="test", http_accept="*/*",
        path_info="/accounts/login/", get_data="", post_data="",
        failures_since_start=django_settings.AXES_FAILURE_LIMIT)


@pytest.mark.parametrize("device", [DESKTOP, NARROW_PHONE], ids=["desktop", "phone-320"])
def test_a_data_manager_manages_people(live_server, new_page, settings, data_manager,
                                       clinic_b, nurse_a, device):
    settings.PASSWORD_RESET_OFFERED = False  # the link is shown, not mailed
    TOTPDevice.objects.create(user=nurse_a, name="phone", confirmed=True)
    _lock("nurse_a")
    page = new_page(device)
    sign_in(page, live_server, data_manager)
    page.goto(f"{live_server.url}/people/")
    expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()
    expect(page.get_by_test_id("people")).to_contain_text("Locked")
    _check(page)

    page.get_by_role("link", name="Invite a person").click()
    _check(page)
    page.get_by_role("button", name="Invite").click()  # no user name: told, nothing written
    expect(page.locator(".error-summary")).to_contain_text("User name")
    _check(page)
    page.get_by_label("User name").fill("newnurse")
    page.get_by_label("Email address").fill("newnurse@example.org")
    page.get_by_label("First name").fill("Nina")
    page.get_by_label("Last name").fill("Novak")
    page.get_by_role("button", name="Invite").click()
    link = page.get_by_test_id("set-password-link")
    expect(link).to_have_value(re.compile(r"/accounts/set-password/"))
    _check(page)

    page.get_by_role("link", name="Give roles to newnurse").click()
    expect(page.get_by_role("heading", name=re.compile("^newnurse"))).to_be_visible()
    _check(page)
    page.get_by_label("Role", exact=True).select_option("researcher")
    page.get_by_role("button", name="Give the role").click()
    expect(page.locator(".people-roles")).to_contain_text("Researcher (all clinics)")
    page.get_by_label("Role", exact=True).select_option("nurse")
    page.get_by_label("Clinic (optional)").select_option(label=f"B – {clinic_b.name}")
    page.get_by_role("button", name="Give the role").click()
    expect(page.locator(".people-roles")).to_contain_text("Nurse at B")
    _check(page)
    page.get_by_role("button", name="Deactivate newnurse").click()
    expect(page.get_by_role("button", name="Reactivate newnurse")).to_be_visible()
    _check(page)

    newnurse = get_user_model().objects.get(username="newnurse")
    assert not newnurse.is_active
    assert set(Membership.objects.filter(user=newnurse).values_list("role", "clinic__code")) \
        == {("researcher", "A"), ("nurse", "B")}

    page.goto(f"{live_server.url}/people/")
    page.get_by_role("link", name="nurse_a", exact=True).click()
    expect(page.get_by_test_id("lock")).to_contain_text("Locked")
    page.get_by_role("button", name=re.compile("Reset the second factor")).click()
    expect(page.get_by_text("no authenticator yet")).to_be_visible()
    page.get_by_role("button", name="Clear the sign-in lock").click()
    expect(page.get_by_test_id("lock")).to_contain_text("no failed sign-ins")
    expect(page.get_by_test_id("changes")).to_contain_text("Second factor reset")
    _check(page)
    assert not TOTPDevice.objects.filter(user=nurse_a).exists()
    assert not AccessAttempt.objects.filter(username="nurse_a").exists()

    actions = set(PeopleChangeLog.objects.values_list("username", "action"))
    assert {("newnurse", "invited"), ("newnurse", "role given"),
            ("newnurse", "deactivated")} <= actions
    assert {("nurse_a", "second factor reset"), ("nurse_a", "sign-in lock cleared")} <= actions


def test_the_admin_user_change_page_has_labelled_role_fields(live_server, page, manager,
                                                              nurse_a):
    """The Membership inline's fields (a tabular inline: column headers, no labels) each
    have an accessible name (axe, with an "add another" row open)."""
    sign_in(page, live_server, manager)
    page.goto(f"{live_server.url}/admin/auth/user/{nurse_a.pk}/change/")
    expect(page.get_by_role("heading", name=re.compile("nurse_a"))).to_be_visible()
    expect(page.get_by_label("Role (role 1)")).to_have_value("nurse")
    page.get_by_role("link", name=re.compile("Add another")).click()
    axe_check(page)
