"""Who sees and changes what, at the selector level."""
import pytest
from django.http import Http404

from clinics.selectors import can_edit_clinical_data, clinics_for_user
from patients.selectors import get_patient_for_user, patients_for_user

pytestmark = pytest.mark.django_db


def test_nurse_sees_only_own_clinic(nurse_a, clinic_a, clinic_b):
    assert list(clinics_for_user(user=nurse_a)) == [clinic_a]


def test_researcher_sees_every_clinic(researcher, clinic_a, clinic_b):
    assert set(clinics_for_user(user=researcher)) == {clinic_a, clinic_b}


def test_nurse_from_other_clinic_gets_404(make_patient, nurse_b):
    patient = make_patient()
    with pytest.raises(Http404):
        get_patient_for_user(user=nurse_b, study_id=patient.study_id)


def test_nurse_finds_own_clinics_patient(make_patient, nurse_a):
    patient = make_patient()
    assert get_patient_for_user(user=nurse_a, study_id=patient.study_id) == patient
    assert list(patients_for_user(user=nurse_a)) == [patient]


@pytest.mark.parametrize("who, allowed", [
    ("nurse_a", True), ("nurse_b", False), ("researcher", False), ("statistician", False),
    ("data_manager", True),
])
def test_only_nurses_of_the_clinic_and_data_managers_edit(request, clinic_a, who, allowed):
    user = request.getfixturevalue(who)
    assert can_edit_clinical_data(user=user, clinic=clinic_a) is allowed
