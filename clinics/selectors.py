"""Who may see and change what: every clinical object is loaded through its clinic."""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from .models import EDITING_ROLES, STUDY_WIDE_ROLES, Clinic, Membership, Role


def user_roles(*, user: AbstractBaseUser) -> set[str]:
    """Every role the user holds at any clinic (cached on the user for the request)."""
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_paincohort_roles", None)
    if cached is None:
        cached = set(Membership.objects.filter(user=user).values_list("role", flat=True))
        user._paincohort_roles = cached
    return cached


def is_study_wide(*, user: AbstractBaseUser) -> bool:
    """Researchers, statisticians and data managers see the whole (pseudonymised) cohort."""
    return bool(user_roles(user=user) & STUDY_WIDE_ROLES)


def clinics_for_user(*, user: AbstractBaseUser) -> QuerySet[Clinic]:
    """The clinics whose patients the user may see."""
    if not user.is_authenticated:
        return Clinic.objects.none()
    if is_study_wide(user=user):
        return Clinic.objects.all()
    return Clinic.objects.filter(memberships__user=user).distinct()


def can_edit_clinical_data(*, user: AbstractBaseUser, clinic: Clinic) -> bool:
    """Nurses at the clinic and data managers change clinical data; nobody else does."""
    if not user.is_authenticated:
        return False
    if Role.DATA_MANAGER in user_roles(user=user):
        return True
    return Membership.objects.filter(user=user, clinic=clinic, role__in=EDITING_ROLES).exists()


def has_role(*, user: AbstractBaseUser, roles: set[str] | frozenset[str]) -> bool:
    return bool(user_roles(user=user) & set(roles))
