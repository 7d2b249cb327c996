"""Which clinics a user may see (who may do what is decided by core.permissions), and the
People page's reads: users with their roles, sign-in locks and second factor."""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.models import PeopleChangeLog
from core.otp.lockout import failures_by_username
from core.permissions import CAN_EDIT_CLINICAL, CAN_VIEW_STUDY, STUDY_WIDE_ROLES, has_capability

from .models import Clinic, Membership


def is_study_wide(*, user: AbstractBaseUser) -> bool:
    """Researchers, statisticians and data managers see the whole (pseudonymised) cohort."""
    return has_capability(user, CAN_VIEW_STUDY)


def clinics_for_user(*, user: AbstractBaseUser) -> QuerySet[Clinic]:
    """The clinics whose patients the user may see."""
    if not user.is_authenticated:
        return Clinic.objects.none()
    if is_study_wide(user=user):
        return Clinic.objects.all()
    return Clinic.objects.filter(memberships__user=user).distinct()


def can_edit_clinical_data(*, user: AbstractBaseUser, clinic: Clinic) -> bool:
    """Nurses at the clinic and data managers change clinical data; nobody else does."""
    return has_capability(user, CAN_EDIT_CLINICAL, clinic=clinic)



# -- the People page ---------------------------------------------------------------------------

def role_label(membership) -> str:
    """"Researcher (all clinics)" for a study-wide role, "Nurse at A – Clinic A" otherwise:
    the clinic a study-wide membership carries says nothing about what it gives."""
    role = membership.get_role_display()
    if membership.role in STUDY_WIDE_ROLES:
        return f"{role} (all clinics)"
    return f"{role} at {membership.clinic}"


@dataclass(frozen=True)
class Person:
    user: AbstractBaseUser
    roles: list[tuple[int, str]]  # (membership id, label)
    failures: int  # failed sign-ins within the cool-off
    has_authenticator: bool

    @property
    def locked(self) -> bool:
        return self.failures >= settings.AXES_FAILURE_LIMIT

    @property
    def tries_left(self) -> int:
        return max(0, settings.AXES_FAILURE_LIMIT - self.failures)


def people(*, user_ids=None) -> list[Person]:
    """Every user (or those of user_ids) with roles, sign-in lock and second factor, in a
    fixed number of queries whatever their number."""
    users = get_user_model().objects.order_by("username").prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("clinic")
                 .order_by("clinic__code")))
    if user_ids is not None:
        users = users.filter(pk__in=user_ids)
    users = list(users)
    failures = failures_by_username(user.get_username() for user in users)
    with_device = set(TOTPDevice.objects.filter(user__in=users, confirmed=True)
                      .values_list("user_id", flat=True))
    return [Person(user=user,
                   roles=[(m.pk, role_label(m)) for m in user.memberships.all()],
                   failures=failures.get(user.get_username(), 0),
                   has_authenticator=user.pk in with_device)
            for user in users]


def person(*, pk: int) -> Person:
    """One user's row of the People page; 404 for an unknown id."""
    found = people(user_ids=[pk])
    if not found:
        raise Http404("No such user.")
    return found[0]


def people_changes(*, username: str, limit: int = 50):
    """The latest audited changes to a user, newest first."""
    return PeopleChangeLog.objects.filter(username=username)[:limit]
