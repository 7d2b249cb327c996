"""How views load a patient: scoped to the user's clinics, logged, and checked for writes."""
from __future__ import annotations

from django.http import HttpRequest

from clinics.models import Clinic
from core.permissions import CAN_EDIT_CLINICAL, require

from .models import Patient
from .selectors import get_patient_for_user
from .services import patient_access_record


def patient_for_request(request: HttpRequest, study_id: str, *, edit: bool = False) -> Patient:
    """The patient, if the user may see it (404 otherwise), with the view logged.

    edit=True also requires the right to change clinical data (403 otherwise): outsiders
    still get a 404 first, so they learn nothing about the patient.
    """
    patient = get_patient_for_user(user=request.user, study_id=study_id)
    if edit:
        require_edit(request, patient.clinic)
    patient_access_record(patient=patient, user=request.user, path=request.get_full_path())
    return patient


def require_edit(request: HttpRequest, clinic: Clinic) -> None:
    """Researchers and statisticians read only: any write is a 403."""
    require(request.user, CAN_EDIT_CLINICAL, clinic=clinic)
