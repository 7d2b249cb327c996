"""Who sees and changes what, at the selector level."""
import pytest

from clinics.selectors import can_edit_clinical_data, clinics_for_user

pytestmark = pytest.mark.django_db


def test_nurse_sees_only_own_clinic(nurse_a, clinic_a, clinic_b):
    assert list(clinics_for_user(user=nurse_a)) == [clinic_a]


def test_researcher_sees_every_clinic(researcher, clinic_a, clinic_b):
    assert set(clinics_for_user(user=researcher)) == {clinic_a, clinic_b}


@pytest.mark.parametrize("who, allowed", [
    ("nurse_a", True), ("nurse_b", False), ("researcher", False), ("statistician", False),
    ("data_manager", True),
])
def test_only_nurses_of_the_clinic_and_data_managers_edit(request, clinic_a, who, allowed):
    user = request.getfixturevalue(who)
    assert can_edit_clinical_data(user=user, clinic=clinic_a) is allowed
