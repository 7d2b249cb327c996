"""Who must use a second factor, and which step of the sign-in a user still owes."""
from __future__ import annotations

from django.conf import settings
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.permissions import Role, user_roles

VERIFY = "verify"
SETUP = "setup"


def two_factor_required(user) -> bool:
    """Researchers, statisticians, data managers and staff always; nurses unless
    TWO_FACTOR_REQUIRED_FOR_NURSES is off; nobody when TWO_FACTOR_REQUIRED is off.

    A user without any role is asked too: we do not know what they will be given."""
    if not settings.TWO_FACTOR_REQUIRED:
        return False
    roles = user_roles(user)
    only_nurse = bool(roles) and roles <= {Role.NURSE}
    if only_nurse and not (user.is_staff or user.is_superuser):
        return settings.TWO_FACTOR_REQUIRED_FOR_NURSES
    return True


def has_authenticator(user) -> bool:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


def step_owed(user) -> str:
    """VERIFY (a code is due), SETUP (an authenticator must be added) or "" (signed in).

    A user with an authenticator is asked for a code even where it is not required: the
    device was added to protect the account. With TWO_FACTOR_REQUIRED off (tests, a
    development machine) nothing is asked, and no query is made."""
    if not settings.TWO_FACTOR_REQUIRED or not user.is_authenticated or user.is_verified():
        return ""
    if has_authenticator(user):
        return VERIFY
    return SETUP if two_factor_required(user) else ""


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
