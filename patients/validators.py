"""The study-ID rule, on the Patient.study_id field (as Django puts username_validator on
the user's username): enrolment and the cohort import both check it. And the rule of
withdrawal: no data is collected after consent is withdrawn."""
from __future__ import annotations

import datetime as dt
from typing import Protocol

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from clinics.models import CLINIC_CODE_PATTERN

# The clinic code (capital letters and digits), a dash and a number, e.g. A-017.
# \Z, not $: "$" also matches before a final newline ("A-017\n" would pass).
STUDY_ID_REGEX = rf"^{CLINIC_CODE_PATTERN}-[0-9]{{1,6}}\Z"

study_id_validator = RegexValidator(
    STUDY_ID_REGEX, message="Use the clinic code, a dash and a number, e.g. A-017.",
    code="invalid_study_id")


def validate_study_id_clinic(study_id: str, clinic_code: str) -> None:
    """A study ID starts with its clinic's code (A-017 belongs to clinic A)."""
    if study_id.split("-")[0] != clinic_code.upper():
        raise ValidationError(f"A study ID at this clinic starts with {clinic_code}-.",
                              code="study_id_clinic")


# -- withdrawal ends data collection ---------------------------------------------------------

def withdrawn_note(withdrawn_on: dt.date) -> str:
    """What the entry pages, the worklist and the refusals say about a withdrawn patient."""
    return f"Withdrawn on {withdrawn_on:%Y-%m-%d}: no further data collection"


class WithdrawalFacts(Protocol):
    """What the rule reads of a patients.models.Withdrawal (models import this module for
    the study-ID field's validator, so it cannot import them back)."""

    withdrawn_on: dt.date
    keep_collected_data: bool


def validate_collection_open(withdrawal: WithdrawalFacts | None, *, new_data: bool) -> None:
    """Refuse a write a withdrawal of consent forbids.

    new_data: a new administration (refused after any withdrawal: consent no longer
    covers collecting data). Otherwise a change to data already collected (a correction
    of a keying error), refused only when the patient asked for their data to be left out:
    those data are no longer the study's to change.
    """
    if withdrawal is None:
        return
    if new_data:
        raise ValidationError(f"{withdrawn_note(withdrawal.withdrawn_on)}.",
                              code="withdrawn")
    if not withdrawal.keep_collected_data:
        raise ValidationError(f"{withdrawn_note(withdrawal.withdrawn_on)}; the patient asked "
                              "for the data already collected to be left out, so they are "
                              "not changed either.", code="withdrawn_data_left_out")
