"""Sign-in that withstands guessing: lockout per username and per address (django-axes),
a cool-off, a data manager's unlock, every failure logged; Argon2 and 12-character
passwords; password reset that delivers its link, or is not offered."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone

from core.client_ip import client_ip_address
from selfcompletion import patient_mode
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

WRONG = "not-the-password-at-all"
HERE, ELSEWHERE = "192.0.2.10", "198.51.100.20"


def _sign_in(client, username: str, password: str, address: str = HERE, url: str = ""):
    return client.post(url or reverse("login"), {"username": username, "password": password},
                       REMOTE_ADDR=address)


def _signed_in(response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in response.client.session


def _fail(client, username: str, times: int, address: str = HERE, url: str = "") -> None:
    for _ in range(times):
        assert _sign_in(client, username, WRONG, address, url).status_code in (200, 429)


def test_the_limits_are_ten_failures_per_user_and_a_hundred_per_address():
    assert settings.AXES_FAILURE_LIMIT == 10
    assert settings.AXES_ADDRESS_FAILURE_LIMIT == 100


def test_eleven_wrong_passwords_then_the_right_one_is_refused(client, nurse_a):
    _fail(client, "nurse_a", 11)
    response = _sign_in(client, "nurse_a", PASSWORD)
    assert response.status_code == 429
    assert not _signed_in(response)
    assert "Sign-in locked" in response.text and "30 minutes after the last" in response.text
    assert "_auth_user_id" not in client.session


def test_nine_wrong_passwords_still_let_the_right_one_in(client, nurse_a):
    _fail(client, "nurse_a", 9)
    assert _signed_in(_sign_in(client, "nurse_a", PASSWORD))


def test_the_username_stays_locked_from_a_different_address(client, nurse_a):
    _fail(client, "nurse_a", 10)
    assert _sign_in(client, "nurse_a", PASSWORD, address=ELSEWHERE).status_code == 429


def test_an_address_guessing_many_usernames_is_locked_for_everyone(client, nurse_a, nurse_b):
    for number in range(settings.AXES_ADDRESS_FAILURE_LIMIT - 1):
        _sign_in(client, f"guess{number}", WRONG)
    # One failure below the address's limit: a nurse with her password still signs in.
    assert _signed_in(_sign_in(client, "nurse_a", PASSWORD))
    client.logout()
    _sign_in(client, "one-more-guess", WRONG)
    assert _sign_in(client, "nurse_b", PASSWORD).status_code == 429
    # nurse_b's own account is not locked: from another address she signs in.
    assert _signed_in(_sign_in(client, "nurse_b", PASSWORD, address=ELSEWHERE))


def test_every_failed_sign_in_is_logged(client, nurse_a):
    _fail(client, "nurse_a", 3, address=ELSEWHERE)
    logged = AccessFailureLog.objects.filter(username="nurse_a")
    assert logged.count() == 3
    assert set(logged.values_list("ip_address", flat=True)) == {ELSEWHERE}


def test_after_the_cool_off_the_right_password_signs_in(client, nurse_a):
    _fail(client, "nurse_a", 11)
    assert _sign_in(client, "nurse_a", PASSWORD).status_code == 429
    # The cool-off runs from the last failure: move every failure back past it.
    past = timezone.now() - settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=past)
    assert _signed_in(_sign_in(client, "nurse_a", PASSWORD))


def test_a_data_manager_unlocks_in_the_admin(client, nurse_a, data_manager):
    _fail(client, "nurse_a", 11)
    data_manager.is_staff = True
    data_manager.save()
    client.force_login(data_manager)
    attempts = AccessAttempt.objects.filter(username="nurse_a")
    response = client.post(reverse("admin:axes_accessattempt_changelist"),
                           {"action": "unlock", "_selected_action": list(
                               attempts.values_list("pk", flat=True))})
    assert response.status_code == 302
    assert not attempts.exists()
    client.logout()
    assert _signed_in(_sign_in(client, "nurse_a", PASSWORD))


def test_a_nurse_cannot_see_or_unlock_sign_ins(client, nurse_a, nurse_b):
    _fail(client, "nurse_a", 11)
    nurse_b.is_staff = True
    nurse_b.save()
    client.force_login(nurse_b)
    url = reverse("admin:axes_accessattempt_changelist")
    assert client.get(url).status_code == 403
    client.post(url, {"action": "unlock",
                      "_selected_action": list(AccessAttempt.objects.values_list("pk",
                                                                                 flat=True))})
    assert AccessAttempt.objects.filter(username="nurse_a").exists()


def test_the_unlock_command(client, nurse_a):
    _fail(client, "nurse_a", 11)
    call_command("axes_reset_username", "nurse_a", stdout=io.StringIO())
    assert _signed_in(_sign_in(client, "nurse_a", PASSWORD, address=ELSEWHERE))


def test_the_admin_sign_in_locks_too(client, data_manager):
    data_manager.is_staff = True
    data_manager.save()
    admin_login = reverse("admin:login")
    _fail(client, "data_manager", 11, url=admin_login)
    response = _sign_in(client, "data_manager", PASSWORD, url=admin_login)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("proxies, meta, expected", [
    (0, {"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "10.0.0.9"),
    (1, {"REMOTE_ADDR": "172.18.0.5", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 203.0.113.7"},
     "203.0.113.7"),
    (1, {"REMOTE_ADDR": "172.18.0.5", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}, "203.0.113.7"),
    (1, {"REMOTE_ADDR": "172.18.0.5"}, "172.18.0.5"),
])
def test_the_client_address_behind_the_proxy(proxies, meta, expected):
    """Behind one proxy the right-most forwarded address is the client's; what the client
    wrote further left (1.2.3.4) cannot move its failures to another address."""
    request = RequestFactory().get("/", **meta)
    with override_settings(TRUSTED_PROXY_COUNT=proxies):
        assert client_ip_address(request) == expected


def test_a_forged_forwarded_address_does_not_escape_the_lockout(client, nurse_a):
    with override_settings(TRUSTED_PROXY_COUNT=1):
        for number in range(11):
            client.post(reverse("login"), {"username": "nurse_a", "password": WRONG},
                        REMOTE_ADDR="172.18.0.5",
                        HTTP_X_FORWARDED_FOR=f"10.9.9.{number}, {HERE}")
        assert set(AccessFailureLog.objects.values_list("ip_address", flat=True)) == {HERE}


def test_passwords_are_hashed_with_argon2_first():
    from config.settings import base

    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    with override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        encoded = make_password(PASSWORD)
        assert encoded.startswith("argon2$argon2id$")
        assert check_password(PASSWORD, encoded)


@pytest.mark.parametrize("password, accepted", [("eleven-char", False),
                                                 ("twelve-chars", True)])
def test_passwords_have_at_least_twelve_characters(password, accepted):
    try:
        validate_password(password)
    except ValidationError:
        assert not accepted
    else:
        assert accepted


def _reset_link(body: str) -> str:
    return re.search(r"https?://[^/]+(/accounts/reset/\S+)", body).group(1)


def test_password_reset_mails_a_link_that_sets_a_new_password(client, nurse_a):
    nurse_a.email = "nurse.a@example.org"
    nurse_a.save()
    assert "Forgotten your password?" in client.get(reverse("login")).text
    response = client.post(reverse("password_reset"), {"email": "nurse.a@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["nurse.a@example.org"]
    assert "nurse_a" in mail.outbox[0].body
    form_url = client.get(_reset_link(mail.outbox[0].body)).url  # token moved to the session
    new_password = "a-new-and-long-password"
    response = client.post(form_url, {"new_password1": new_password,
                                      "new_password2": new_password})
    assert response.status_code == 302
    assert get_user_model().objects.get(username="nurse_a").check_password(new_password)
    assert _signed_in(_sign_in(client, "nurse_a", new_password))
    # The link works once.
    assert "does not work any more" in client.get(_reset_link(mail.outbox[0].body),
                                                  follow=True).text


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.org"},
                           follow=True)
    assert "Check your email" in response.text
    assert mail.outbox == []


@override_settings(PASSWORD_RESET_OFFERED=False)
def test_without_mail_password_reset_is_not_offered(client):
    assert "Forgotten your password?" not in client.get(reverse("login")).text
    assert client.get(reverse("password_reset")).status_code == 404
    assert client.post(reverse("password_reset"), {"email": "x@example.org"}
                       ).status_code == 404


# -- a clinic behind one address ---------------------------------------------------------------

def _hand_tablet_to_patient(client, nurse, patient) -> None:
    client.force_login(nurse)
    response = client.post(reverse("selfcompletion:hand_to_patient",
                                   args=[patient.study_id, "baseline"]), REMOTE_ADDR=HERE)
    assert response["Location"] == reverse("selfcompletion:tablet")


def _sign_in_error(response) -> str:
    assert response.status_code == 200
    return " ".join(response.context["form"].non_field_errors())


def test_the_clinic_case_locks_only_the_nurse_who_mistyped(client, nurse_a, nurse_b,
                                                             make_patient):
    """One wrong tablet hand-back and eight wrong passwords for nurse A, all from the
    clinic's one address: nurse B signs in; nurse A is told how many tries are left, and
    after ten failures she alone is locked."""
    _hand_tablet_to_patient(client, nurse_a, make_patient())
    assert client.post(reverse("selfcompletion:tablet_exit"), {"password": WRONG},
                       REMOTE_ADDR=HERE).status_code == 400
    client.logout()
    for failure in range(1, 9):
        error = _sign_in_error(_sign_in(client, "nurse_a", WRONG))
        left = 10 - failure
        assert f"{left} {'try' if left == 1 else 'tries'} left before this account is locked " \
               "for 30 minutes" in error
    assert "2 tries left" in error
    assert _signed_in(_sign_in(client, "nurse_b", PASSWORD))
    client.logout()
    assert "1 try left" in _sign_in_error(_sign_in(client, "nurse_a", WRONG))
    assert _sign_in(client, "nurse_a", WRONG).status_code == 429  # the tenth failure
    locked = _sign_in(client, "nurse_a", PASSWORD)
    assert locked.status_code == 429 and not _signed_in(locked)
    assert _signed_in(_sign_in(client, "nurse_b", PASSWORD))


def test_a_refused_sign_in_does_not_count_as_a_further_failure(client, nurse_a):
    _fail(client, "nurse_a", 10)
    failures = AccessAttempt.objects.filter(username="nurse_a")
    assert sum(failures.values_list("failures_since_start", flat=True)) == 10
    for _ in range(3):
        assert _sign_in(client, "nurse_a", PASSWORD).status_code == 429
        assert _sign_in(client, "nurse_a", WRONG).status_code == 429
    assert sum(failures.values_list("failures_since_start", flat=True)) == 10


def test_one_nurses_lock_does_not_refuse_a_colleague_at_the_same_address(client, nurse_a,
                                                                         nurse_b):
    _fail(client, "nurse_a", 15)
    assert _sign_in(client, "nurse_a", PASSWORD).status_code == 429
    assert _signed_in(_sign_in(client, "nurse_b", PASSWORD))


def test_unknown_names_say_tries_left_like_known_ones(client, nurse_a):
    """The message does not tell a guesser which user names exist."""
    _sign_in(client, "nurse_a", WRONG)
    _sign_in(client, "nobody_here", WRONG)
    known = _sign_in_error(_sign_in(client, "nurse_a", WRONG))
    unknown = _sign_in_error(_sign_in(client, "nobody_here", WRONG))
    assert "8 tries left" in known and known == unknown


# -- the tablet's "return to staff" password ----------------------------------------------------

def test_wrong_tablet_exit_passwords_do_not_count_towards_the_nurses_lockout(
        client, nurse_a, make_patient):
    _hand_tablet_to_patient(client, nurse_a, make_patient())
    exit_url = reverse("selfcompletion:tablet_exit")
    for _ in range(patient_mode.EXIT_MAX_FAILURES - 1):
        assert client.post(exit_url, {"password": WRONG}, REMOTE_ADDR=HERE).status_code == 400
    assert not AccessAttempt.objects.exists() and not AccessFailureLog.objects.exists()
    right = client.post(exit_url, {"password": PASSWORD}, REMOTE_ADDR=HERE)
    assert right["Location"].startswith("/patients/")


def test_the_tablet_says_how_many_exit_tries_are_left(client, nurse_a, make_patient):
    _hand_tablet_to_patient(client, nurse_a, make_patient())
    wrong = client.post(reverse("selfcompletion:tablet_exit"), {"password": WRONG})
    assert "4 more wrong passwords and the tablet is locked" in wrong.text


def test_five_wrong_tablet_exit_passwords_lock_the_tablet_session(client, nurse_a,
                                                                  make_patient):
    patient = make_patient()
    _hand_tablet_to_patient(client, nurse_a, patient)
    exit_url = reverse("selfcompletion:tablet_exit")
    for _ in range(patient_mode.EXIT_MAX_FAILURES - 1):
        client.post(exit_url, {"password": WRONG})
    locked = client.post(exit_url, {"password": WRONG})
    assert locked.status_code == 403
    assert "Tablet locked" in locked.text and "A nurse must sign in again" in locked.text
    assert patient.study_id not in locked.text
    # Signed out: the right password no longer helps, nor does any page of the record.
    assert "_auth_user_id" not in client.session
    assert client.post(exit_url, {"password": PASSWORD})["Location"] == "/p/ended/"
    assert client.get(f"/patients/{patient.study_id}/")["Location"].startswith(
        "/accounts/login/")
    # The nurse herself is not locked: she signs in again at once.
    assert _signed_in(_sign_in(client, "nurse_a", PASSWORD))


def test_the_exit_failures_are_per_tablet_session(client, nurse_a, make_patient):
    patient = make_patient()
    exit_url = reverse("selfcompletion:tablet_exit")
    _hand_tablet_to_patient(client, nurse_a, patient)
    for _ in range(patient_mode.EXIT_MAX_FAILURES - 1):
        client.post(exit_url, {"password": WRONG})
    assert client.post(exit_url, {"password": PASSWORD})["Location"].startswith("/patients/")
    client.post(reverse("selfcompletion:hand_to_patient", args=[patient.study_id, "baseline"]))
    # A new hand-over starts a new count.
    assert "4 more wrong passwords" in client.post(exit_url, {"password": WRONG}).text
