"""export_cohort -> import_cohort into an empty database -> export_cohort: the same bytes,
missing-data reasons and PIH form versions included (issue 17 item 5); the new columns'
bad cells are refused with line and column."""
import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from patients.models import FollowUpStatus, LostReason, Patient
from patients.services import patient_mark_lost
from questionnaires.cohort_files.importer import import_cohort
from questionnaires.cohort_files.reader import CohortImportError
from questionnaires.instruments import PPIC
from questionnaires.models import (
    Administration,
    AdministrationSource,
    MissingReason,
    PihFormVersion,
)
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
    patient_mark_lost(patient=second, lost_reason=LostReason.DISCHARGED, by=nurse_a)


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
    assert set(Patient.objects.values_list("followup_status", "lost_reason")) == {
        (FollowUpStatus.COMPLETED, ""), (FollowUpStatus.LOST, LostReason.DISCHARGED)}
    second = _export(tmp_path / "second.csv")
    assert second == first


def _seed_self_completed(make_patient, clinic_b):
    """A link's answers: two items declined (Prefer not to answer), one left blank, each
    stored with its reason as self-completion stores them."""
    patient = make_patient(clinic=clinic_b)
    empty = {"bpi_worst": MissingReason.DECLINED, "ppic_3": MissingReason.DECLINED,
             "pih_4": MissingReason.NOT_ANSWERED}
    administration_save(patient=patient, timepoint="baseline",
                        administered_on=patient.consented_on,
                        answers=full_answers() | dict.fromkeys(empty), by=None,
                        complete=True, source=AdministrationSource.LINK,
                        missing_reasons=empty)
    return patient, empty


def _stored_reasons():
    return {(a.patient.study_id, a.timepoint): a.missing_reasons
            for a in Administration.objects.select_related("patient")}


def test_declined_items_survive_the_round_trip_with_their_stored_reasons(
        make_patient, nurse_a, clinic_b, tmp_path):
    _seed(make_patient, nurse_a, clinic_b)
    patient, empty = _seed_self_completed(make_patient, clinic_b)
    before = _stored_reasons()
    first = _export(tmp_path / "first.csv")
    (row,) = [line for line in first.decode().splitlines()
              if line.startswith(patient.study_id + ",")]
    assert row.endswith(",current,bpi_worst:declined;ppic_3:declined;pih_4:not_answered;"
                        "bpi_severity:too_few_items,active,")
    Administration.objects.all().delete()
    Patient.objects.all().delete()
    call_command("import_cohort", str(tmp_path / "first.csv"), stdout=StringIO())
    assert _export(tmp_path / "second.csv") == first
    after = _stored_reasons()
    assert after[(patient.study_id, "baseline")] == empty
    assert after.keys() == before.keys()
    for key, reasons in before.items():
        # Nurse-keyed paper stores no reason ({}); the file says not_answered for each of
        # its empty items, and the import stores what the file says (the same meaning).
        if not reasons:
            reasons = {code: MissingReason.NOT_ANSWERED for code in after[key]}
            assert set(reasons.values()) <= {MissingReason.NOT_ANSWERED}
        assert after[key] == reasons, key


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
    ({"missing_reasons": "gender:declined", "gender": ""}, "gender is not_recorded"),
    ({"missing_reasons": "bpi_worst:too_few_items", "bpi_worst": ""},
     "bpi_worst is not_answered or declined"),
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


def test_an_imported_declined_item_is_stored_with_its_reason(clinic_a, tmp_path):
    row = cohort_row(pih_form_version="current", bpi_worst="", pih_3="",
                     missing_reasons="bpi_worst:declined;pih_3:not_answered")
    _import(tmp_path, [row], NEW_LAYOUT)
    administration = Administration.objects.get()
    assert administration.missing_reasons == {"bpi_worst": "declined",
                                              "pih_3": "not_answered"}
    assert administration.bpi_worst is None and administration.pih_3 is None
    # Without a reason an empty item stays not_answered (the default): nothing stored.
    Administration.objects.all().delete()
    Patient.objects.all().delete()
    _import(tmp_path, [row | {"missing_reasons": ""}], NEW_LAYOUT)
    assert Administration.objects.get().missing_reasons == {}


def test_the_older_layout_still_imports_as_the_current_form(clinic_a, tmp_path):
    _import(tmp_path, [cohort_row(pih=2)], tuple(cohort_row().keys()))
    administration = Administration.objects.get()
    assert administration.pih_form_version == PihFormVersion.CURRENT
    assert administration.pih_overall == pytest.approx(100 * 2 * 12 / 96)


STATUS_LAYOUT = (*NEW_LAYOUT, "followup_status", "lost_reason")


@pytest.mark.parametrize(("cells", "column", "message"), [
    ({"followup_status": "gone"}, "followup_status", "'gone' is not active, completed, lost"),
    ({"followup_status": "lost", "lost_reason": "moved"}, "lost_reason", "'moved' is not"),
    ({"followup_status": "active", "lost_reason": "discharged"}, "lost_reason",
     "given, but followup_status is active, not lost"),
])
def test_bad_follow_up_status_cells_are_refused_naming_line_and_column(
        clinic_a, tmp_path, cells, column, message):
    row = cohort_row(pih_form_version="current", missing_reasons="") | cells
    with pytest.raises(CohortImportError) as caught:
        _import(tmp_path, [row], STATUS_LAYOUT)
    (error,) = caught.value.errors
    assert (error.line, error.column) == (2, column)
    assert message in error.message
    assert not Patient.objects.exists()


def test_a_patient_called_lost_must_have_no_follow_up_and_rows_must_agree(clinic_a,
                                                                          tmp_path):
    lost = {"pih_form_version": "current", "missing_reasons": "",
            "followup_status": "lost", "lost_reason": "did_not_attend"}
    rows = [cohort_row(**lost), cohort_row(timepoint="followup",
                                           administered_on="2025-04-10", **lost)]
    with pytest.raises(CohortImportError) as caught:
        _import(tmp_path, rows, STATUS_LAYOUT)
    assert [(e.line, e.column) for e in caught.value.errors] == [(2, "followup_status")]
    assert "has its follow-up" in caught.value.errors[0].message
    rows[1] |= {"followup_status": "completed", "lost_reason": ""}
    with pytest.raises(CohortImportError) as caught:
        _import(tmp_path, rows, STATUS_LAYOUT)
    assert [(e.line, e.column) for e in caught.value.errors] == [(3, "followup_status")]
    assert not Patient.objects.exists()


def test_the_file_never_changes_an_existing_patients_follow_up_status(
        make_patient, clinic_a, tmp_path):
    patient = make_patient(study_id="A-001")
    row = cohort_row(study_id="A-001", administered_on=patient.consented_on.isoformat(),
                     pih_form_version="current", missing_reasons="",
                     followup_status="lost", lost_reason="discharged")
    _import(tmp_path, [row], STATUS_LAYOUT)
    patient.refresh_from_db()
    assert (patient.followup_status, patient.lost_reason) == (FollowUpStatus.ACTIVE, "")
