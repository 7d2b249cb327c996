"""Which clinics a user may see; who may do what is decided by core.permissions."""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from core.permissions import CAN_EDIT_CLINICAL, CAN_VIEW_STUDY, has_capability

from .models import Clinic


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

