"""Who holds the query capabilities (core.permissions), written out from the brief: data
managers raise and close, the clinic's nurses answer, researchers and statisticians none."""
from __future__ import annotations

import pytest

from core.permissions import (
    CAN_ANSWER_QUERIES,
    CAN_RAISE_QUERIES,
    CAN_VIEW_QUERIES,
    has_capability,
)
from tests.factories import make_user

pytestmark = pytest.mark.django_db

QUERY_CAPABILITIES = (CAN_VIEW_QUERIES, CAN_RAISE_QUERIES, CAN_ANSWER_QUERIES)
EXPECTED = {
    "nurse": {CAN_VIEW_QUERIES, CAN_ANSWER_QUERIES},
    "researcher": set(),
    "statistician": set(),
    "data_manager": {CAN_VIEW_QUERIES, CAN_RAISE_QUERIES},
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_holds_its_query_capabilities(clinic_a, role):
    user = make_user(role, [clinic_a], role)
    assert {cap for cap in QUERY_CAPABILITIES if has_capability(user, cap)} == EXPECTED[role]


def test_a_nurse_sees_and_answers_at_her_own_clinics_only(clinic_a, clinic_b, nurse_a,
                                                         data_manager):
    for capability in (CAN_VIEW_QUERIES, CAN_ANSWER_QUERIES):
        assert has_capability(nurse_a, capability, clinic=clinic_a)
        assert not has_capability(nurse_a, capability, clinic=clinic_b)
    assert has_capability(data_manager, CAN_VIEW_QUERIES, clinic=clinic_b)  # every clinic
    assert not has_capability(data_manager, CAN_ANSWER_QUERIES, clinic=clinic_a)
