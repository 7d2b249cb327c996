"""The cohort import refuses rows for a signed-off record, naming each line."""
from __future__ import annotations

import datetime as dt

import pytest

from patients.services import record_sign_off, record_unlock
from questionnaires.cohort_files.importer import import_cohort
from questionnaires.cohort_files.reader import CohortImportError
from questionnaires.models import Administration
from questionnaires.tests.cohort_files import cohort_row, write_cohort

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_off_a001(make_patient, make_administration, data_manager):
    patient = make_patient(study_id="A-001", consented_on=dt.date(2025, 1, 10))
    make_administration(patient, administered_on=dt.date(2025, 1, 10))
    return record_sign_off(patient=patient, by=data_manager)


def _run(path, **kwargs):
    with path.open(encoding="utf-8", newline="") as stream:
        return import_cohort(stream=stream, source=path.name, **kwargs)


def test_import_into_a_signed_off_record_names_the_line_and_writes_nothing(
        signed_off_a001, tmp_path):
    path = write_cohort(tmp_path / "c.csv", [cohort_row("A-002"),
                                             cohort_row("A-001", "followup", "2025-04-10")])
    for dry_run in (True, False):
        with pytest.raises(CohortImportError) as excinfo:
            _run(path, dry_run=dry_run)
        assert [str(error) for error in excinfo.value.errors] == [
            "line 3, column study_id: A-001: Signed off on "
            f"{signed_off_a001.signed_off_at:%Y-%m-%d}: the record is read-only until a data "
            "manager unlocks it; no rows can be imported into it"]
    assert Administration.objects.count() == 1
    assert not Administration.objects.filter(patient__study_id="A-002").exists()


def test_import_into_the_same_record_after_unlock_is_written(signed_off_a001, data_manager,
                                                            tmp_path):
    record_unlock(patient=signed_off_a001, by=data_manager, reason="follow-up arrived late")
    path = write_cohort(tmp_path / "c.csv", [cohort_row("A-001", "followup", "2025-04-10")])
    _run(path)
    assert Administration.objects.filter(patient=signed_off_a001,
                                         timepoint="followup").exists()
