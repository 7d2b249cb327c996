"""Reads of patients, always scoped to what the user may see."""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404

from clinics.models import Clinic
from clinics.selectors import clinics_for_user

from .models import Patient, Withdrawal


def patients_for_user(*, user: AbstractBaseUser, clinic: Clinic | None = None
                      ) -> QuerySet[Patient]:
    """Patients of the clinics the user belongs to (all clinics for study-wide roles)."""
    patients = Patient.objects.filter(clinic__in=clinics_for_user(user=user))
    if clinic is not None:
        patients = patients.filter(clinic=clinic)
    return patients


def get_patient_for_user(*, user: AbstractBaseUser, study_id: str) -> Patient:
    """Return the patient if the user may see it; 404 otherwise (outsiders learn nothing)."""
    try:
        return patients_for_user(user=user).select_related("clinic").get(study_id=study_id)
    except Patient.DoesNotExist:
        raise Http404("No such patient.") from None


def withdrawal_or_none(patient: Patient) -> Withdrawal | None:
    """The patient's withdrawal of consent, if recorded."""
    try:
        return patient.withdrawal
    except Withdrawal.DoesNotExist:
        return None
