"""Who sees which patients, at the selector level (moved from clinics/tests/test_selectors.py:
the patient selectors are this app's)."""
import pytest
from django.http import Http404

from patients.selectors import get_patient_for_user, patients_for_user

pytestmark = pytest.mark.django_db


def test_nurse_from_other_clinic_gets_404(make_patient, nurse_b):
    patient = make_patient()
    with pytest.raises(Http404):
        get_patient_for_user(user=nurse_b, study_id=patient.study_id)


def test_nurse_finds_own_clinics_patient(make_patient, nurse_a):
    patient = make_patient()
    assert get_patient_for_user(user=nurse_a, study_id=patient.study_id) == patient
    assert list(patients_for_user(user=nurse_a)) == [patient]
