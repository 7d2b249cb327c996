"""Two-factor sign-in: after the password, a code from the authenticator (TOTP) or a
recovery code (used once); until then every page but the sign-in, two-factor, password
reset and health pages redirects. Wrong codes are logged, sign the session out at the
limit and count towards the lockout.

Codes are computed with django_otp.oath.totp from the device's key (or the key the set-up
page shows): the library's reference implementation of RFC 6238, not our code.
"""
from __future__ import annotations

import base64
import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from axes.models import AccessFailureLog
from django.urls import get_resolver, reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import PASSWORD
from tests.site_walk import unnamed_url, url_for, url_patterns

pytestmark = pytest.mark.django_db

VERIFY = "/accounts/two-factor/"
SETUP = "/accounts/two-factor/setup/"
RECOVERY = ["abcd2345", "efgh6723"]


@pytest.fixture(autouse=True)
def two_factor_on(settings):
    """As in production (the suite's settings turn it off). No pause between tries, so
    that a right code may follow a wrong one at once; test_throttle puts it back."""
    settings.TWO_FACTOR_REQUIRED = True
    settings.TWO_FACTOR_REQUIRED_FOR_NURSES = True
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0
    # No clock-drift learning: a code matched across a 30 s boundary would otherwise shift
    # the window and refuse the next step's code (code_for(ahead=1)).
    settings.OTP_TOTP_SYNC = False
    return settings


def add_authenticator(user, *, recovery: list[str] = ()) -> TOTPDevice:
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    if recovery:
        codes = StaticDevice.objects.create(user=user, name="recovery", confirmed=True)
        for token in recovery:
            codes.token_set.create(token=token)
    return device


def code_for(key_hex: str, ahead: int = 0) -> str:
    """The code an authenticator shows now (ahead=1: the next step's, for a second sign-in
    within the same 30 s, since a code is accepted once)."""
    return f"{totp(bytes.fromhex(key_hex), drift=ahead):06d}"


def sign_in(client, user, password: str = PASSWORD):
    response = client.post(reverse("login"), {"username": user.username, "password": password})
    assert response.status_code == 302, "the password step failed"
    return response


def enter_code(client, code: str, next_path: str = "/"):
    return client.post(VERIFY, {"code": code, "next": next_path})


def owes(response) -> str:
    """Which two-factor page a response redirects to ("" if none)."""
    if response.status_code != 302:
        return ""
    path = urlsplit(response["Location"]).path
    return {VERIFY: "verify", SETUP: "setup"}.get(path, "")


OPEN_PAGES = {"login", "logout", "password_reset", "password_reset_done",
              "password_reset_confirm", "password_reset_complete", "health",
              "two_factor_verify", "two_factor_setup", "admin:logout"}


def test_with_the_password_alone_every_protected_page_redirects_to_the_code(
        client, manager, site_data):
    add_authenticator(manager)
    sign_in(client, manager)
    not_sent, opened = [], set()
    for route, name, pattern in url_patterns(get_resolver()):
        url = url_for(name, pattern, site_data) if name else unnamed_url(route)
        response = client.get(url)
        if name in OPEN_PAGES:
            opened.add(name)
            # Set-up sends a user who has an authenticator on to the code (its own choice).
            assert owes(response) == ("verify" if name == "two_factor_setup" else ""), name
        elif owes(response) != "verify":
            not_sent.append((name or route, response.status_code))
    assert not_sent == []
    assert opened == OPEN_PAGES
    # A POST is stopped as well, and the page asked for is kept for afterwards.
    response = client.post(reverse("clinics:list"), {})
    assert owes(response) == "verify"
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == ["/clinics/"]


def test_a_right_code_signs_in_and_goes_where_the_user_was_going(client, researcher):
    device = add_authenticator(researcher)
    sign_in(client, researcher)
    assert owes(client.get(reverse("analysis:dashboard"))) == "verify"
    response = enter_code(client, code_for(device.key), "/analysis/")
    assert response.status_code == 302 and response["Location"] == "/analysis/"
    assert client.get(reverse("analysis:dashboard")).status_code == 200
    assert owes(client.get(reverse("home"))) == ""


def test_a_wrong_code_is_refused_logged_and_counted_as_a_failed_sign_in(
        client, researcher, caplog):
    device = add_authenticator(researcher)
    sign_in(client, researcher)
    wrong = f"{(int(code_for(device.key)) + 1) % 1_000_000:06d}"
    with caplog.at_level(logging.WARNING, logger="paincohort.two_factor"):
        response = enter_code(client, wrong)
    assert response.status_code == 200
    assert "That code is not right. 4 more wrong codes" in response.text
    assert owes(client.get(reverse("analysis:dashboard"))) == "verify"
    assert "Wrong two-factor code (verify) for researcher" in caplog.text
    assert AccessFailureLog.objects.filter(username="researcher").count() == 1


def test_the_same_code_is_not_accepted_twice(client, researcher):
    device = add_authenticator(researcher)
    code = code_for(device.key)
    sign_in(client, researcher)
    assert owes(enter_code(client, code)) == ""
    client.post(reverse("logout"))
    sign_in(client, researcher)
    assert enter_code(client, code).status_code == 200  # refused: shown again


def test_five_wrong_codes_sign_the_session_out(client, researcher):
    add_authenticator(researcher)
    sign_in(client, researcher)
    for _ in range(4):
        assert enter_code(client, "000000").status_code == 200
    response = enter_code(client, "000000")
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert "_auth_user_id" not in client.session
    page = client.get(reverse("login"))
    assert "signed out after 5 wrong codes" in page.text


def test_wrong_codes_add_up_with_wrong_passwords_to_the_lockout(client, researcher):
    add_authenticator(researcher)
    for _ in range(5):
        client.post(reverse("login"), {"username": "researcher", "password": "wrong-password"})
    sign_in(client, researcher)
    for _ in range(4):
        enter_code(client, "000000")
    response = enter_code(client, "000000")  # the 10th failure: locked out
    assert response.status_code == 429 and "Sign-in locked" in response.text
    assert "_auth_user_id" not in client.session
    refused = client.post(reverse("login"), {"username": "researcher", "password": PASSWORD})
    assert refused.status_code == 429


def test_a_recovery_code_works_once(client, researcher):
    add_authenticator(researcher, recovery=RECOVERY)
    sign_in(client, researcher)
    response = enter_code(client, "ABCD-2345")  # as printed: any case, hyphens, spaces
    assert owes(response) == "" and response.status_code == 302
    assert owes(client.get(reverse("analysis:dashboard"))) == ""
    assert list(StaticToken.objects.values_list("token", flat=True)) == ["efgh6723"]
    client.post(reverse("logout"))
    sign_in(client, researcher)
    assert enter_code(client, "abcd2345").status_code == 200
    assert owes(client.get(reverse("analysis:dashboard"))) == "verify"
    assert owes(enter_code(client, "efgh 6723")) == ""


def test_after_a_wrong_code_the_next_try_waits(client, researcher, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 1  # production's pause: 1, 2, 4 ... s
    device = add_authenticator(researcher)
    sign_in(client, researcher)
    enter_code(client, "000000")
    response = enter_code(client, code_for(device.key))
    assert response.status_code == 200 and "wait 1 second" in response.text
    # Not a guess: it did not count towards signing the session out.
    assert "_auth_user_id" in client.session
    assert AccessFailureLog.objects.filter(username="researcher").count() == 1


@pytest.mark.parametrize("for_nurses, nurse_owes", [(True, "setup"), (False, "")])
def test_nurses_need_a_second_factor_where_the_setting_says_so(
        client, settings, nurse_a, researcher, statistician, data_manager, for_nurses,
        nurse_owes):
    settings.TWO_FACTOR_REQUIRED_FOR_NURSES = for_nurses
    for user, expected in [(nurse_a, nurse_owes), (researcher, "setup"),
                           (statistician, "setup"), (data_manager, "setup")]:
        client.post(reverse("logout"))
        sign_in(client, user)
        assert owes(client.get(reverse("home"))) == expected, user.username


def test_a_nurse_who_added_an_authenticator_is_asked_for_it_even_if_not_required(
        client, settings, nurse_a):
    settings.TWO_FACTOR_REQUIRED_FOR_NURSES = False
    add_authenticator(nurse_a)
    sign_in(client, nurse_a)
    assert owes(client.get(reverse("clinics:list"))) == "verify"


def test_with_the_second_factor_off_nobody_is_asked(client, settings, researcher):
    settings.TWO_FACTOR_REQUIRED = False
    add_authenticator(researcher)
    sign_in(client, researcher)
    assert client.get(reverse("analysis:dashboard")).status_code == 200


def test_the_admin_asks_for_the_code_too(client, data_manager):
    data_manager.is_staff = True
    data_manager.save()
    device = add_authenticator(data_manager)
    response = client.post(reverse("admin:login"),
                           {"username": "data_manager", "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302
    assert owes(client.get("/admin/")) == "verify"
    assert owes(client.get("/admin/patients/patient/")) == "verify"
    enter_code(client, code_for(device.key))
    assert client.get("/admin/").status_code == 200


def test_setting_up_the_authenticator(client, data_manager):
    sign_in(client, data_manager)
    response = client.get(reverse("clinics:list"))
    assert owes(response) == "setup"
    page = client.get(response["Location"])
    assert page.status_code == 200 and "data:image/svg+xml" in page.text  # the QR code
    secret = re.search(r"data-two-factor-key>([A-Z2-7 ]+)<", page.text).group(1)
    key_hex = base64.b32decode(secret.replace(" ", "")).hex()
    # The page is the same on a reload (the scanned key stays valid) ...
    assert secret in client.get(SETUP).text
    # ... a wrong code sets nothing up ...
    wrong = client.post(SETUP, {"code": "000000", "next": "/clinics/"})
    assert wrong.status_code == 200 and "That code is not right" in wrong.text
    assert not TOTPDevice.objects.filter(user=data_manager, confirmed=True).exists()
    # ... and the right one confirms it and shows ten recovery codes, once.
    done = client.post(SETUP, {"code": code_for(key_hex), "next": "/clinics/"})
    assert done.status_code == 302 and done["Location"].startswith(
        reverse("two_factor_recovery_codes"))
    shown = client.get(done["Location"])
    codes = re.findall(r"<li><code>([a-z2-7]{4} [a-z2-7]{4})</code></li>", shown.text)
    assert len(set(codes)) == 10
    assert 'href="/clinics/"' in shown.text
    again = client.get(reverse("two_factor_recovery_codes"))
    assert codes[0] not in again.text and "10 unused recovery codes" in again.text
    assert client.get(reverse("clinics:list")).status_code == 200
    # Next time: the code is asked for, and a recovery code shown at set-up works.
    client.post(reverse("logout"))
    sign_in(client, data_manager)
    assert owes(client.get(SETUP)) == "verify"  # no second authenticator on a password
    assert owes(enter_code(client, codes[3])) == ""
    assert client.get(reverse("clinics:list")).status_code == 200
    assert TOTPDevice.objects.get(user=data_manager).key == key_hex


def test_new_recovery_codes_replace_the_old_ones(client, researcher):
    device = add_authenticator(researcher, recovery=RECOVERY)
    sign_in(client, researcher)
    enter_code(client, code_for(device.key))
    response = client.post(reverse("two_factor_recovery_codes"), {"next": "/"})
    shown = client.get(response["Location"])
    assert len(re.findall(r"<li><code>", shown.text)) == 10
    assert not StaticToken.objects.filter(token__in=RECOVERY).exists()


def test_next_never_leaves_the_site(client, researcher):
    device = add_authenticator(researcher)
    sign_in(client, researcher)
    response = enter_code(client, code_for(device.key), "https://evil.example/")
    assert response["Location"] == reverse("home")


def test_the_demo_logins_sign_in_with_the_printed_key(client):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("seed_demo", "--force", "--no-refit", "--patients=6", "--clinics=2",
                 "--end-date=2024-06-30", "--password=demo-password-12", stdout=out)
    printed = re.search(r"^  ((?:[A-Z2-7]{4} ){7}[A-Z2-7]{4})$", out.getvalue(), re.M).group(1)
    key_hex = base64.b32decode(printed.replace(" ", "")).hex()
    assert "DEMO-ONLY" in out.getvalue()
    assert client.post(reverse("login"), {"username": "researcher",
                                          "password": "demo-password-12"}).status_code == 302
    assert owes(client.get(reverse("home"))) == "verify"
    assert owes(enter_code(client, code_for(key_hex))) == ""
    # Printing again (make run: seed_demo --if-empty) adds no second authenticator.
    call_command("seed_demo", "--force", "--if-empty", stdout=StringIO())
    assert TOTPDevice.objects.filter(user__username="researcher").count() == 1


def test_after_a_reset_the_next_sign_in_sets_up_a_new_authenticator(client, researcher):
    from core.otp.services import two_factor_reset

    add_authenticator(researcher, recovery=RECOVERY)
    two_factor_reset(researcher)
    sign_in(client, researcher)
    assert owes(client.get(reverse("analysis:dashboard"))) == "setup"
    assert owes(enter_code(client, RECOVERY[0])) == "setup"  # old codes are gone
    assert owes(client.get(reverse("analysis:dashboard"))) == "setup"


# -- the code page before the second factor ------------------------------------------------------

def test_the_code_field_asks_phones_for_digits_and_offers_the_sms_code(client, nurse_a):
    add_authenticator(nurse_a)
    sign_in(client, nurse_a)
    page = client.get(VERIFY).text
    field = re.search(r'<input[^>]*name="code"[^>]*>', page).group(0)
    assert 'inputmode="numeric"' in field and 'autocomplete="one-time-code"' in field


@pytest.mark.parametrize("page", [VERIFY, SETUP])
def test_no_navigation_and_no_user_name_before_the_second_factor(client, page, data_manager):
    data_manager.first_name, data_manager.last_name = "Dana", "Manager"
    data_manager.is_staff = True
    data_manager.save()
    if page == VERIFY:
        add_authenticator(data_manager)
    sign_in(client, data_manager)
    text = client.get(page).text
    assert 'class="site-nav"' not in text
    for hidden in ("Dana Manager", "data_manager", "Dashboard", "Worklist", "People", "Admin"):
        assert hidden not in text
    assert 'action="/accounts/logout/"' in text  # a way out stays


def test_the_navigation_and_name_appear_once_the_code_is_given(client, data_manager):
    data_manager.first_name, data_manager.last_name = "Dana", "Manager"
    data_manager.save()
    device = add_authenticator(data_manager)
    sign_in(client, data_manager)
    assert enter_code(client, code_for(device.key))["Location"] == "/"
    text = client.get(reverse("analysis:dashboard")).text
    assert 'class="site-nav"' in text and "Dana Manager" in text
