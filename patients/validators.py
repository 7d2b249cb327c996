"""The study-ID rule, on the Patient.study_id field (as Django puts username_validator on
the user's username): enrolment and the cohort import both check it."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

# The clinic code (capital letters and digits), a dash and a number, e.g. A-017.
STUDY_ID_REGEX = r"^[A-Z0-9]{1,10}-[0-9]{1,6}$"

study_id_validator = RegexValidator(
    STUDY_ID_REGEX, message="Use the clinic code, a dash and a number, e.g. A-017.",
    code="invalid_study_id")


def validate_study_id_clinic(study_id: str, clinic_code: str) -> None:
    """A study ID starts with its clinic's code (A-017 belongs to clinic A)."""
    if study_id.split("-")[0] != clinic_code.upper():
        raise ValidationError(f"A study ID at this clinic starts with {clinic_code}-.",
                              code="study_id_clinic")
