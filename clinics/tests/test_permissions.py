"""The role policy (core.permissions): who holds which capability, and the 403."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from core.permissions import (
    CAN_ANALYSE,
    CAN_DOWNLOAD,
    CAN_EDIT_CLINICAL,
    CAN_ENTER_DATA,
    CAN_MANAGE,
    CAN_VIEW_STUDY,
    has_capability,
    requires,
)
from tests.factories import make_user

pytestmark = pytest.mark.django_db

# Each role's capabilities, written out from the README's roles table.
EXPECTED = {
    "nurse": {CAN_ENTER_DATA},
    "researcher": {CAN_VIEW_STUDY, CAN_ANALYSE},
    "statistician": {CAN_VIEW_STUDY, CAN_ANALYSE, CAN_DOWNLOAD},
    "data_manager": {CAN_VIEW_STUDY, CAN_ANALYSE, CAN_DOWNLOAD, CAN_ENTER_DATA, CAN_MANAGE},
}
STUDY_CAPABILITIES = (CAN_VIEW_STUDY, CAN_ANALYSE, CAN_DOWNLOAD, CAN_ENTER_DATA, CAN_MANAGE)


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_holds_its_capabilities(clinic_a, role):
    user = make_user(role, [clinic_a], role)
    held = {cap for cap in STUDY_CAPABILITIES if has_capability(user, cap)}
    assert held == EXPECTED[role]


def test_clinical_edits_are_checked_at_the_clinic(clinic_a, clinic_b, nurse_a, researcher):
    manager_b = make_user("manager_b", [clinic_b], "data_manager")
    assert has_capability(nurse_a, CAN_EDIT_CLINICAL, clinic=clinic_a)
    assert not has_capability(nurse_a, CAN_EDIT_CLINICAL, clinic=clinic_b)
    assert has_capability(manager_b, CAN_EDIT_CLINICAL, clinic=clinic_a)  # every clinic
    assert not has_capability(researcher, CAN_EDIT_CLINICAL, clinic=clinic_a)


def test_nobody_signed_in_holds_nothing():
    assert not has_capability(AnonymousUser(), CAN_ANALYSE)


def test_requires_answers_403_to_a_refused_user(nurse_a, statistician):
    @requires(CAN_DOWNLOAD)
    def download(request):
        return "file"

    request = RequestFactory().get("/")
    request.user = statistician
    assert download(request) == "file"
    request.user = nurse_a
    with pytest.raises(PermissionDenied):
        download(request)
