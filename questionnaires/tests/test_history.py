"""The patient's change history: who, when, field, old and new value, reason."""
from __future__ import annotations

import pytest

from patients.services import patient_update
from questionnaires.history import patient_history
from questionnaires.services import administration_save
from tests.factories import full_answers

pytestmark = pytest.mark.django_db


def _correct(patient, admin, by, **changes):
    return administration_save(
        patient=patient, timepoint="baseline", administered_on=admin.administered_on,
        answers=full_answers() | changes, by=by, complete=True, base_version=admin.version,
        reason="keying error")


def test_correction_appears_with_who_old_new_and_reason(make_patient, make_administration,
                                                        data_manager):
    patient = make_patient()
    admin = make_administration(patient)
    _correct(patient, admin, data_manager, bpi_worst=9, ppic_2=None)
    rows = [r for r in patient_history(patient=patient) if r.reason == "keying error"]
    assert {(r.who, r.field, r.old, r.new) for r in rows} == {
        ("data_manager", "Worst pain, last 24 h", "5", "9"),
        ("data_manager", "Understood my concerns", "4", "not answered"),
    }


def test_first_entry_is_one_row_and_scores_are_not_listed(make_patient, make_administration):
    patient = make_patient()
    make_administration(patient)
    rows = patient_history(patient=patient)
    assert [(r.record, r.new) for r in rows] == [
        ("Baseline questionnaire", "entered (complete)"), ("Patient", "enrolled")]


def test_characteristic_change_is_listed(make_patient, nurse_a):
    patient = make_patient()
    patient_update(patient=patient, by=nurse_a, reason="age from GP letter", age=49)
    row = patient_history(patient=patient)[0]
    assert (row.record, row.field, row.old, row.new, row.reason) == (
        "Patient", "age at baseline (years)", "48", "49", "age from GP letter")


def test_history_costs_a_fixed_number_of_queries(make_patient, make_administration,
                                                 django_assert_num_queries, nurse_a):
    patient = make_patient()
    admin = make_administration(patient)
    for value in (1, 2, 3):
        admin = _correct(patient, admin, nurse_a, bpi_now=value)
    with django_assert_num_queries(3):
        patient_history(patient=patient)


def test_a_nurse_checking_a_patients_own_answers_appears_with_who_and_when(
        make_patient, nurse_a):
    from questionnaires.services import administration_confirm

    patient = make_patient()
    saved = administration_save(
        patient=patient, timepoint="baseline", administered_on=patient.consented_on,
        answers=full_answers(), by=None, complete=True, source="tablet")
    administration_confirm(administration=saved, by=nurse_a)
    rows = patient_history(patient=patient)
    checked = [r for r in rows if r.field == "checked"]
    assert [(r.who, r.old) for r in checked] == [("nurse_a", "—")]
    saved.refresh_from_db()
    # The moment of the check, in the site's style and local time zone (Europe/London by
    # default), computed here with zoneinfo rather than Django's own formatting.
    from zoneinfo import ZoneInfo

    from django.conf import settings
    local = saved.checked_at.astimezone(ZoneInfo(settings.TIME_ZONE))
    assert checked[0].new == f"{local.day} {local:%b %Y, %H:%M}"
    assert "T" not in checked[0].new
