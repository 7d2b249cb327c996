"""Writes of the People page: a data manager invites users, gives and removes their roles,
deactivates and reactivates them, resets a lost second factor and clears a sign-in lock.

Every change is one transaction with its audit row (core.audit.people_change_record);
memberships also keep their django-simple-history rows. Bad input raises ValidationError
naming the field, and nothing is written.
"""
from __future__ import annotations

from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from core.audit import people_change_record
from core.otp.services import two_factor_reset
from core.permissions import STUDY_WIDE_ROLES, Role

from .models import Clinic, Membership
from .selectors import role_label

User = get_user_model()


def user_invite(*, username: str, email: str, first_name: str = "", last_name: str = "",
                by) -> User:
    """A new user without a password: they choose one through set_password_path()."""
    user = User(username=username.strip(), email=email.strip(),
                first_name=first_name.strip(), last_name=last_name.strip())
    user.set_unusable_password()
    user.full_clean()
    if User.objects.filter(username__iexact=user.username).exists():
        raise ValidationError({"username": "A user with this user name already exists."})
    with transaction.atomic():
        user.save()
        people_change_record(by=by, user=user, action="invited", detail=user.email)
    return user


def set_password_path(*, user, by) -> str:
    """The one-time link (a path) where the user sets their password: it stops working once
    used (the token covers the password) or after PASSWORD_RESET_TIMEOUT."""
    _refuse_superuser_change(user=user, by=by)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    people_change_record(by=by, user=user, action="set-password link issued")
    return reverse("clinics:set_password", kwargs={"uidb64": uid, "token": token})


def role_give(*, user, role: str, clinic: Clinic | None, by) -> Membership:
    """A nurse's role at one clinic, or a study-wide role (researcher, statistician, data
    manager), which holds at every clinic whichever clinic carries it."""
    _refuse_superuser_change(user=user, by=by)
    if role not in Role.values:
        raise ValidationError({"role": "Choose one of the roles."})
    if role in STUDY_WIDE_ROLES:
        clinic = _study_wide_anchor(user=user, role=role)
    elif clinic is None:
        raise ValidationError({"clinic": "Choose the clinic where this nurse works."})
    elif user.memberships.filter(clinic=clinic).exists():
        raise ValidationError({"clinic": f"{user.get_username()} already has a role at "
                                         f"{clinic.code}: remove it first."})
    membership = Membership(user=user, clinic=clinic, role=role)
    membership.full_clean()
    with transaction.atomic():
        membership.save()
        people_change_record(by=by, user=user, action="role given",
                             detail=role_label(membership))
    return membership


def role_remove(*, membership: Membership, by) -> None:
    _refuse_superuser_change(user=membership.user, by=by)
    if membership.user_id == by.pk and membership.role == Role.DATA_MANAGER:
        raise ValidationError("You cannot remove your own data-manager role.")
    label = role_label(membership)
    with transaction.atomic():
        membership.delete()
        people_change_record(by=by, user=membership.user, action="role removed", detail=label)


def user_active_set(*, user, active: bool, by) -> None:
    """Deactivate (every session of the user ends at its next request: an inactive user
    is no longer signed in) or reactivate a user."""
    _refuse_superuser_change(user=user, by=by)
    if user.pk == by.pk and not active:
        raise ValidationError("You cannot deactivate yourself.")
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        people_change_record(by=by, user=user,
                             action="reactivated" if active else "deactivated")


def person_two_factor_reset(*, user, by) -> None:
    """A lost phone: the next sign-in sets up a new authenticator."""
    _refuse_superuser_change(user=user, by=by)
    with transaction.atomic():
        two_factor_reset(user)
        people_change_record(by=by, user=user, action="second factor reset")


def sign_in_lock_clear(*, user, by) -> int:
    """Forget the user name's failed sign-ins (django-axes), from every address."""
    with transaction.atomic():
        count, _ = AccessAttempt.objects.filter(username=user.get_username()).delete()
        people_change_record(by=by, user=user, action="sign-in lock cleared",
                             detail=f"{count} record(s) of failed sign-ins removed")
    return count


def _study_wide_anchor(*, user, role: str) -> Clinic:
    """Membership needs a clinic; a study-wide role goes on the first clinic where the user
    has none (it is shown and acts as "all clinics" whichever it is)."""
    if user.memberships.filter(role=role).exists():
        raise ValidationError({"role": f"{user.get_username()} already has this role."})
    clinic = Clinic.objects.exclude(memberships__user=user).order_by("code").first()
    if clinic is None:
        raise ValidationError({"role": "Every clinic already carries a role of this user: "
                                       "remove one first."})
    return clinic


def _refuse_superuser_change(*, user, by) -> None:
    # As in the admin: only a superuser changes a superuser.
    if user.is_superuser and not by.is_superuser:
        raise ValidationError("Only a superuser may change a superuser.")
