"""The one role policy: named capabilities, the roles that hold them, and how views ask.

Roles are held per clinic (clinics.Membership); a capability is held when the user has
one of its roles at any clinic, except CAN_EDIT_CLINICAL, which is checked at a given
clinic: a nurse edits her own clinics' patients, a data manager every clinic's.

Public API (analysis/views.py can switch its role sets to these names):
- Role: the four roles (clinics.models re-exports it for Membership.role);
- capabilities CAN_VIEW_STUDY, CAN_EDIT_CLINICAL, CAN_ENTER_DATA, CAN_ANALYSE,
  CAN_DOWNLOAD, CAN_RECORD_INTERVIEWS, CAN_MANAGE, CAN_VIEW_QUERIES, CAN_RAISE_QUERIES,
  CAN_ANSWER_QUERIES, and CAPABILITY_ROLES (name -> roles);
- user_roles(user), has_capability(user, cap, clinic=None), require(user, cap, clinic=None)
  and the view decorator @requires(cap), which answer 403 (PermissionDenied) when refused.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.db import models


class Role(models.TextChoices):
    NURSE = "nurse", "Nurse"
    RESEARCHER = "researcher", "Researcher"
    STATISTICIAN = "statistician", "Statistician"
    DATA_MANAGER = "data_manager", "Data manager"


# See the whole (pseudonymised) cohort, every clinic, rather than one's own clinics.
CAN_VIEW_STUDY = "view_study"
# Change clinical data (enrol, enter, correct, withdraw): checked at a clinic.
CAN_EDIT_CLINICAL = "edit_clinical"
# Work from a clinic worklist (the navigation's "Worklist" link).
CAN_ENTER_DATA = "enter_data"
# The researcher pages: dashboard, export page, interviews list, "Refit now".
CAN_ANALYSE = "analyse"
# Download the cohort files (CSV, wide file, .dta).
CAN_DOWNLOAD = "download"
# Record interview contacts.
CAN_RECORD_INTERVIEWS = "record_interviews"
# Manage the study: the admin, the study target, a failed run's error.
CAN_MANAGE = "manage"
# Data queries (dataqueries): see them (a nurse her own clinics', checked at a clinic; a data
# manager every clinic's), raise and close them (data managers), answer them (the clinic's
# nurses). Researchers and statisticians see none: a query names a patient's doubtful data.
CAN_VIEW_QUERIES = "view_queries"
CAN_RAISE_QUERIES = "raise_queries"
CAN_ANSWER_QUERIES = "answer_queries"

CAPABILITY_ROLES: dict[str, frozenset[str]] = {
    CAN_VIEW_STUDY: frozenset({Role.RESEARCHER, Role.STATISTICIAN, Role.DATA_MANAGER}),
    CAN_EDIT_CLINICAL: frozenset({Role.NURSE, Role.DATA_MANAGER}),
    CAN_ENTER_DATA: frozenset({Role.NURSE, Role.DATA_MANAGER}),
    CAN_ANALYSE: frozenset({Role.RESEARCHER, Role.STATISTICIAN, Role.DATA_MANAGER}),
    CAN_DOWNLOAD: frozenset({Role.STATISTICIAN, Role.DATA_MANAGER}),
    CAN_RECORD_INTERVIEWS: frozenset({Role.RESEARCHER, Role.DATA_MANAGER}),
    CAN_MANAGE: frozenset({Role.DATA_MANAGER}),
    CAN_VIEW_QUERIES: frozenset({Role.NURSE, Role.DATA_MANAGER}),
    CAN_RAISE_QUERIES: frozenset({Role.DATA_MANAGER}),
    CAN_ANSWER_QUERIES: frozenset({Role.NURSE}),
}
# Roles whose capability holds at every clinic; the others only at their own clinics.
STUDY_WIDE_ROLES = CAPABILITY_ROLES[CAN_VIEW_STUDY]
REFUSED = "Your role can view but not change clinical data."

_ROLES_CACHE = "_paincohort_roles"


def user_roles(user) -> frozenset[str]:
    """Every role the user holds at any clinic, cached on the user for the request.

    Read through the `memberships` relation that clinics.Membership declares: this module
    sits below clinics and does not import it.
    """
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, _ROLES_CACHE, None)
    if cached is None:
        cached = frozenset(user.memberships.values_list("role", flat=True))
        setattr(user, _ROLES_CACHE, cached)
    return cached


def has_capability(user, capability: str, *, clinic=None) -> bool:
    """Whether the user holds the capability (at `clinic`, when one is given)."""
    roles = CAPABILITY_ROLES[capability]
    held = user_roles(user) & roles
    if clinic is None or not held or held & STUDY_WIDE_ROLES:
        return bool(held)
    return user.memberships.filter(clinic=clinic, role__in=roles).exists()


def require(user, capability: str, *, clinic=None, message: str = REFUSED) -> None:
    """Raise PermissionDenied (the 403 page) unless the user holds the capability."""
    if not has_capability(user, capability, clinic=clinic):
        raise PermissionDenied(message)


def requires(capability: str, message: str = "Your role does not give access to this page."):
    """View decorator: 403 unless the signed-in user holds the capability anywhere.

    Put it under @login_required, so that anonymous users are sent to sign in first.
    """
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            require(request.user, capability, message=message)
            return view(request, *args, **kwargs)
        return wrapped
    return decorator
