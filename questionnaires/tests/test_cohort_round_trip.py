"""export_cohort -> import_cohort into an empty database -> export_cohort: the same bytes,
missing-data reasons and PIH form versions included (issue 17 item 5); the new columns'
bad cells are refused with line and column."""
import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from patients.models import Patient
from questionnaires.cohort_files.importer import import_cohort
from questionnaires.cohort_files.reader import CohortImportError
from questionnaires.instruments import PPIC
from questionnaires.models import Administration, PihFormVersion
from questionnaires.services import administration_save
from tests.factories import full_answers

from .cohort_files import cohort_row, write_cohort


def _export(path) -> bytes:
    call_command("export_cohort", str(path), stdout=StringIO())
    return path.read_bytes()


def _seed(make_patient, nurse_a, clinic_b):
    first = make_patient(gender="", age=None, education="")
    answers = full_answers() | {"bpi_worst": None, "bpi_sleep": None, "ppic_3": None,
                                "pih_2": None, "pih_7": 1, "pih_9": 2}
    administration_save(patient=first, timepoint="baseline",
                        administered_on=first.consented_on, answers=answers, by=nurse_a,
                        complete=True, pih_form_version=PihFormVersion.REVERSED)
    administration_save(patient=first, timepoint="followup",
                        administered_on=first.consented_on + dt.timedelta(days=90),
                        answers=full_answers(bpi=3) | {c: None for c in PPIC.item_codes[:7]},
                        by=nurse_a, complete=True)
    second = make_patient(clinic=clinic_b, pain_sites=None)
    administration_save(patient=second, timepoint="baseline",
                        administered_on=second.consented_on,
                        answers=full_answers(pih=7) | {"pih_12": None}, by=nurse_a,
                        complete=True)


def test_export_import_export_gives_identical_bytes(make_patient, nurse_a, clinic_b,
                                                    tmp_path):
    _seed(make_patient, nurse_a, clinic_b)
    first = _export(tmp_path / "first.csv")
    assert b"reversed" in first and b"bpi_worst:not_answered" in first
    assert b"pain_sites:not_recorded" in first
    Administration.objects.all().delete()
    Patient.objects.all().delete()
    call_command("import_cohort", str(tmp_path / "first.csv"), stdout=StringIO())
    assert Administration.objects.filter(
        pih_form_version=PihFormVersion.REVERSED).count() == 1
    second = _export(tmp_path / "second.csv")
    assert second == first


def _import(tmp_path, rows, columns):
    path = write_cohort(tmp_path / "in.csv", rows, columns)
    with path.open(encoding="utf-8", newline="") as stream:
        return import_cohort(stream=stream, source="in.csv")


NEW_LAYOUT = (*cohort_row().keys(), "pih_form_version", "missing_reasons")


@pytest.mark.parametrize(("cells", "message"), [
    ({"pih_form_version": "sideways"}, "'sideways' is not current or reversed"),
    ({"missing_reasons": "bpi_worst:not_answered"}, "bpi_worst, which is not empty"),
    ({"missing_reasons": "bpi_worst:forgot", "bpi_worst": ""}, "'bpi_worst:forgot'"),
    ({"missing_reasons": "bpi_worst:not_entered", "bpi_worst": ""}, "cannot be imported"),
    ({"missing_reasons": "study_id:not_recorded"}, "'study_id' is not a column"),
])
def test_bad_new_columns_are_refused_naming_line_and_column(clinic_a, tmp_path, cells,
                                                            message):
    row = cohort_row(pih_form_version="current", missing_reasons="") | cells
    with pytest.raises(CohortImportError) as caught:
        _import(tmp_path, [row], NEW_LAYOUT)
    (error,) = caught.value.errors
    assert error.line == 2
    assert error.column in ("pih_form_version", "missing_reasons")
    assert message in error.message
    assert not Administration.objects.exists()


def test_a_reversed_form_is_imported_and_scored_as_reversed(clinic_a, tmp_path):
    row = cohort_row(pih=2, pih_form_version="reversed", missing_reasons="")
    _import(tmp_path, [row], NEW_LAYOUT)
    administration = Administration.objects.get()
    assert administration.pih_form_version == PihFormVersion.REVERSED
    assert administration.pih_1 == 2                       # stored as written
    assert administration.pih_overall == pytest.approx(100 * (8 - 2) * 12 / 96)


def test_the_older_layout_still_imports_as_the_current_form(clinic_a, tmp_path):
    _import(tmp_path, [cohort_row(pih=2)], tuple(cohort_row().keys()))
    administration = Administration.objects.get()
    assert administration.pih_form_version == PihFormVersion.CURRENT
    assert administration.pih_overall == pytest.approx(100 * 2 * 12 / 96)
