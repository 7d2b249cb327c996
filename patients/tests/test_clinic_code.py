"""Clinic.code follows the study-ID prefix rule: capital letters and digits, up to 10."""
from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from clinics.models import Clinic
from patients.validators import STUDY_ID_REGEX

pytestmark = pytest.mark.django_db

BAD = ["=1+1", "a", "A-1", "A 1", "A\n", "", "ABCDEFGHIJK", "Ä", "+A", "@SUM(A1)"]
GOOD = ["A", "LEEDS2", "0", "ABCDEFGHIJ"]


@pytest.mark.parametrize("code", BAD)
def test_a_code_outside_the_rule_is_refused_by_the_model(code):
    with pytest.raises(ValidationError) as refused:
        Clinic(code=code, name="Clinic").full_clean()
    assert "code" in refused.value.message_dict


@pytest.mark.parametrize("code", GOOD)
def test_a_code_of_capitals_and_digits_passes_and_makes_a_valid_study_id(code):
    Clinic(code=code, name="Clinic").full_clean()
    # Independently of the clinic's validator: the study-ID rule accepts its prefix.
    assert re.match(STUDY_ID_REGEX, f"{code}-017")


@pytest.mark.parametrize("code", BAD)
def test_the_rule_agrees_with_the_study_id_prefix(code):
    assert not re.match(STUDY_ID_REGEX, f"{code}-017")


def test_an_admin_cannot_create_a_formula_clinic(client, manager):
    client.force_login(manager)
    url = reverse("admin:clinics_clinic_add")
    form = {"code": "=1+1", "name": "Formula", "active": "on",
            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}
    response = client.post(url, form)
    assert response.status_code == 200  # the form again, with the message
    assert "capital letters and digits" in response.content.decode()
    assert not Clinic.objects.filter(name="Formula").exists()
    form["code"] = "F2"
    assert client.post(url, form).status_code == 302
    assert Clinic.objects.filter(code="F2").exists()
