"""import_cohort: all or nothing, every error with its line and column."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from clinics.models import Clinic
from patients.models import FollowUpStatus, Patient
from questionnaires.cohort_files import reader
from questionnaires.cohort_files.columns import IMPORT_COLUMNS
from questionnaires.cohort_files.importer import import_cohort
from questionnaires.cohort_files.loader import scored
from questionnaires.cohort_files.reader import CohortImportError
from questionnaires.instruments import ITEM_CODES
from questionnaires.models import Administration
from questionnaires.scoring import score_all
from questionnaires.services import validate_answers
from questionnaires.tests.cohort_files import cohort_row, write_cohort

pytestmark = pytest.mark.django_db


def _snapshot() -> tuple[int, ...]:
    return (Patient.objects.count(), Administration.objects.count(),
            Patient.history.count(), Administration.history.count(),
            Clinic.objects.get(code="A").next_patient_number)


def _import_errors(path) -> str:
    """Run the command expecting failure; return its error report."""
    before = _snapshot()
    from io import StringIO
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_cohort", str(path), stderr=err, stdout=StringIO())
    assert _snapshot() == before, "a failed import must write nothing"
    return err.getvalue()


def _pair(study_id="A-001", baseline="2025-01-10", followup="2025-04-10", **patient):
    return [cohort_row(study_id, "baseline", baseline, **patient),
            cohort_row(study_id, "followup", followup, ppic=5, pih=7, **patient)]


@pytest.fixture
def clinics(clinic_a, clinic_b):
    return clinic_a, clinic_b


# -- a good file ---------------------------------------------------------------------------

def test_valid_file_creates_patients_and_scored_complete_administrations(clinics, tmp_path,
                                                                          data_manager):
    path = write_cohort(tmp_path / "cohort.csv", _pair("A-001") + [
        cohort_row("B-001", clinic="B", age="", gender="", pain_years="0",
                   bpi_worst="", ppic_3="")])
    call_command("import_cohort", str(path), user="data_manager", stdout=None)
    patient = Patient.objects.get(study_id="A-001")
    assert (patient.consented_on, patient.consent_form_version, patient.consent_taken_by) == (
        dt.date(2025, 1, 10), "imported", "import from cohort.csv")
    assert patient.followup_status == FollowUpStatus.COMPLETED
    other = Patient.objects.get(study_id="B-001")
    assert (other.clinic.code, other.age, other.gender, other.pain_years) == ("B", None, "", 0)
    assert other.followup_status == FollowUpStatus.ACTIVE
    administration = Administration.objects.get(patient=other)
    assert administration.is_complete
    expected = score_all(administration.answers)
    assert administration.bpi_severity is None  # one of the 4 severity items missing
    assert administration.ppic_partnership == expected["ppic_partnership"].value == 44.0
    assert administration.ppic_partnership_n == 10
    assert Administration.objects.count() == 3


def test_import_records_user_and_reason_in_the_audit_trail(clinics, tmp_path, data_manager):
    path = write_cohort(tmp_path / "site1.csv", _pair())
    call_command("import_cohort", str(path), user="data_manager", stdout=None)
    for record in [Patient.history.get(), *Administration.history.all()]:
        assert record.history_type == "+"
        assert record.history_user == data_manager
        assert record.history_change_reason == "imported from site1.csv"


def test_followup_for_a_patient_already_in_the_database_is_added(clinics, tmp_path,
                                                                 make_patient,
                                                                 make_administration):
    patient = make_patient(study_id="A-050", consented_on=dt.date(2025, 1, 10))
    make_administration(patient)
    path = write_cohort(tmp_path / "fu.csv", [cohort_row("A-050", "followup", "2025-04-20")])
    call_command("import_cohort", str(path), stdout=None)
    patient.refresh_from_db()
    assert patient.followup_status == FollowUpStatus.COMPLETED
    assert patient.administrations.count() == 2
    assert "imported from fu.csv" in patient.history.first().history_change_reason


def test_validation_runs_a_fixed_number_of_queries_whatever_the_size(
        clinics, tmp_path, django_assert_max_num_queries):
    rows = [row for n in range(1, 151) for row in _pair(f"A-{n:03d}")]
    path = write_cohort(tmp_path / "big.csv", rows)
    with django_assert_max_num_queries(6):
        with path.open(newline="") as stream:
            summary = import_cohort(stream=stream, source="big.csv", dry_run=True)
    assert (summary.patients_created, summary.administrations_created) == (150, 300)


def test_writes_are_batched_not_one_query_per_row(clinics, tmp_path,
                                                  django_assert_max_num_queries):
    rows = [row for n in range(1, 151) for row in _pair(f"A-{n:03d}")]
    path = write_cohort(tmp_path / "big.csv", rows)
    # SQLite caps a statement at 999 parameters (13 administrations per INSERT); PostgreSQL
    # takes a whole batch. Either way far fewer statements than the 900 rows written.
    with django_assert_max_num_queries(80):
        with path.open(newline="") as stream:
            import_cohort(stream=stream, source="big.csv")
    assert Administration.history.count() == 300


# -- dry run -------------------------------------------------------------------------------

def test_dry_run_writes_nothing_and_says_what_it_would_write(clinics, tmp_path):
    from io import StringIO
    path = write_cohort(tmp_path / "c.csv", _pair("A-001") + [cohort_row("A-002")])
    out = StringIO()
    before = _snapshot()
    call_command("import_cohort", str(path), dry_run=True, stdout=out)
    assert _snapshot() == before
    assert "would create 2 patients and 3 administrations" in out.getvalue()


def test_dry_run_reports_errors_too(clinics, tmp_path):
    path = write_cohort(tmp_path / "c.csv", [cohort_row(pih_3="9")])
    with pytest.raises(CommandError):
        call_command("import_cohort", str(path), dry_run=True, stderr=None, stdout=None)


# -- every kind of error, with its line and column -----------------------------------------

def test_value_out_of_range_names_line_and_column(clinics, tmp_path):
    path = write_cohort(tmp_path / "c.csv", _pair("A-001") + [cohort_row("A-002", pih_3="9")])
    assert "line 4, column pih_3: 9 is outside 0-8" in _import_errors(path)


def test_non_number_names_line_and_column(clinics, tmp_path):
    path = write_cohort(tmp_path / "c.csv", [cohort_row(bpi_mood="six"), cohort_row(
        "A-002", age="4O")])
    report = _import_errors(path)
    assert "line 2, column bpi_mood: 'six' is not a whole number" in report
    assert "line 3, column age: '4O' is not a whole number" in report


def test_patient_level_values_out_of_range_or_unknown(clinics, tmp_path):
    path = write_cohort(tmp_path / "c.csv", [cohort_row(age="17", gender="F",
                                                        pain_sites="0")])
    report = _import_errors(path)
    assert "line 2, column age: 17 is outside 18-110" in report
    assert "line 2, column gender: 'F' is not one of male, female, other" in report
    assert "line 2, column pain_sites: 0 is outside 1-20" in report


def test_unknown_clinic_names_line_and_column(clinics, tmp_path):
    path = write_cohort(tmp_path / "c.csv", [cohort_row(), cohort_row("Z-001", clinic="Z")])
    assert "line 3, column clinic: unknown clinic 'Z'" in _import_errors(path)


def test_impossible_date_names_line_and_column(clinics, tmp_path):
    path = write_cohort(tmp_path / "c.csv", [cohort_row(administered_on="2025-02-30"),
                                             cohort_row("A-002", administered_on="10/01/2025")])
    report = _import_errors(path)
    assert "line 2, column administered_on: 2025-02-30 is not a valid date" in report
    assert "line 3, column administered_on: '10/01/2025' is not a date" in report


def test_future_date_is_refused(clinics, tmp_path):
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    path = write_cohort(tmp_path / "c.csv", [cohort_row(administered_on=tomorrow)])
    assert f"line 2, column administered_on: {tomorrow} is in the future" in _import_errors(path)


def test_duplicate_patient_and_timepoint_within_the_file(clinics, tmp_path):
    path = write_cohort(tmp_path / "c.csv", _pair() + [cohort_row("A-001", "baseline")])
    assert ("line 4, column timepoint: A-001 has a second baseline (first on line 2)"
            in _import_errors(path))


def test_duplicate_patient_and_timepoint_against_the_database(clinics, tmp_path, make_patient,
                                                              make_administration):
    patient = make_patient(study_id="A-001", consented_on=dt.date(2025, 1, 10))
    make_administration(patient)
    path = write_cohort(tmp_path / "c.csv", [cohort_row("A-002"), cohort_row("A-001")])
    assert ("line 3, column timepoint: A-001 already has a baseline in the database"
            in _import_errors(path))


def test_patient_level_columns_that_disagree_between_rows(clinics, tmp_path):
    rows = [cohort_row("A-001", "baseline"),
            cohort_row("A-001", "followup", "2025-04-10", age="52", clinic="B")]
    report = _import_errors(write_cohort(tmp_path / "c.csv", rows))
    assert "line 3, column age: 52 disagrees with 48 on line 2" in report
    assert "line 3, column clinic: B disagrees with A on line 2" in report


def test_followup_dated_before_its_baseline(clinics, tmp_path):
    path = write_cohort(tmp_path / "c.csv", _pair(baseline="2025-03-01", followup="2025-02-01"))
    assert ("line 3, column administered_on: follow-up 2025-02-01 is not after the baseline "
            "2025-03-01 (line 2)") in _import_errors(path)


def test_followup_before_the_baseline_in_the_database(clinics, tmp_path, make_patient,
                                                      make_administration):
    patient = make_patient(study_id="A-001", consented_on=dt.date(2025, 3, 1))
    make_administration(patient)
    path = write_cohort(tmp_path / "c.csv", [cohort_row("A-001", "followup", "2025-03-01")])
    assert ("line 2, column administered_on: follow-up 2025-03-01 is not after the baseline "
            "2025-03-01 in the database") in _import_errors(path)


def test_followup_without_any_baseline(clinics, tmp_path):
    path = write_cohort(tmp_path / "c.csv", [cohort_row("A-009", "followup")])
    assert ("line 2, column timepoint: A-009 has a follow-up but no baseline"
            in _import_errors(path))


def test_unknown_and_missing_columns_are_reported_on_line_1(clinics, tmp_path):
    columns = [c for c in IMPORT_COLUMNS if c != "pih_12"] + ["pih_13"]
    report = _import_errors(write_cohort(tmp_path / "c.csv", [cohort_row()], columns))
    assert "line 1, column pih_13: unknown column" in report
    assert "line 1, column pih_12: missing column" in report


def test_row_with_the_wrong_number_of_fields(clinics, tmp_path):
    path = write_cohort(tmp_path / "c.csv", [cohort_row()])
    with path.open("a") as stream:
        stream.write("A-002,A,baseline\n")
    assert f"line 3: 3 fields, the header has {len(IMPORT_COLUMNS)}" in _import_errors(path)


def test_existing_study_id_with_another_clinic_or_characteristics(clinics, tmp_path,
                                                                  make_patient,
                                                                  make_administration):
    patient = make_patient(study_id="A-001", consented_on=dt.date(2025, 1, 10), age=48)
    make_administration(patient)
    path = write_cohort(tmp_path / "c.csv", [cohort_row("A-001", "followup", "2025-04-10",
                                                        clinic="B", age="50")])
    report = _import_errors(path)
    assert ("line 2, column clinic: A-001 exists in the database with clinic A, "
            "the file has B") in report
    assert "line 2, column age: A-001 exists in the database with age 48" in report


def test_file_with_n_errors_reports_all_n(clinics, tmp_path):
    rows = [cohort_row(f"A-{n:03d}", pih_1=str(9 + n)) for n in range(1, 31)]
    rows.append(cohort_row("A-031", clinic="Q"))
    rows.append(cohort_row("A-032", administered_on="2024-13-01"))
    report = _import_errors(write_cohort(tmp_path / "c.csv", rows))
    lines = report.splitlines()
    assert len(lines) == 32
    assert lines[0] == "line 2, column pih_1: 10 is outside 0-8"
    assert lines[29] == "line 31, column pih_1: 39 is outside 0-8"
    assert lines[31].startswith("line 33, column administered_on: 2024-13-01")


def test_huge_error_report_is_capped_with_the_total(clinics, tmp_path):
    rows = [cohort_row(f"A-{n:03d}", pih_1="9", pih_2="9") for n in range(1, 151)]
    report = _import_errors(write_cohort(tmp_path / "c.csv", rows))
    assert len(report.splitlines()) == 201
    assert report.splitlines()[-1] == "... and 100 more (300 errors in total)"


def test_error_raised_by_the_service_lists_every_error(clinics, tmp_path):
    rows = [cohort_row(pih_1="9"), cohort_row("A-002", clinic="Q")]
    with write_cohort(tmp_path / "c.csv", rows).open(newline="") as stream:
        with pytest.raises(CohortImportError) as excinfo:
            import_cohort(stream=stream, source="c.csv")
    assert excinfo.value.count == 2
    assert [(e.line, e.column) for e in excinfo.value.errors] == [(2, "pih_1"), (3, "clinic")]


@pytest.mark.parametrize("cell", [" 5", "5 ", "05", "+5", "5.0", "-1", "1e1", "\u0665", "٣"])
def test_import_accepts_exactly_the_answers_data_entry_accepts(clinics, tmp_path, cell):
    try:
        expected = validate_answers({"bpi_worst": cell})["bpi_worst"]
    except ValidationError:
        expected = None
    path = write_cohort(tmp_path / "c.csv", [cohort_row(bpi_worst=cell)])
    with path.open(newline="") as stream:
        try:
            import_cohort(stream=stream, source="c.csv")
        except CohortImportError as exc:
            assert expected is None, exc.report()
            assert exc.errors[0].column == "bpi_worst"
            return
    assert Administration.objects.get().bpi_worst == expected


def test_bulk_scores_match_the_worked_examples_of_instruments_md():
    """Expected values worked by hand in INSTRUMENTS.md ("Worked examples (must hold)")."""
    answers = dict.fromkeys(ITEM_CODES)
    answers |= {"bpi_worst": 7, "bpi_least": 3, "bpi_average": 5, "bpi_now": 6,
                "bpi_general_activity": 4, "bpi_mood": 5, "bpi_work": 6, "bpi_enjoyment": 7}
    answers |= {f"ppic_{n}": 5 for n in range(1, 11)}                  # ppic_11 missing
    answers |= {"pih_1": 8, "pih_9": 6, "pih_10": 6}                   # pih_2, pih_11 missing
    values = scored(answers)
    assert values["bpi_severity"] == 5.25
    assert values["bpi_interference"] == 5.5 and values["bpi_interference_n"] == 4
    assert values["ppic_partnership"] == 55.0 and values["ppic_partnership_n"] == 10
    assert values["pih_knowledge"] is None                             # 1 of 2 items
    assert values["pih_side_effects"] == 75.0                          # 100 x 6 / 8


def test_bulk_scores_of_all_best_and_all_worst_pih_answers():
    best = scored({code: 8 if code.startswith("pih_") else None for code in ITEM_CODES})
    worst = scored({code: 0 if code.startswith("pih_") else None for code in ITEM_CODES})
    for code in ("pih_knowledge", "pih_side_effects", "pih_symptoms", "pih_adherence",
                 "pih_overall"):
        assert best[code] == 100.0 and worst[code] == 0.0


def test_no_data_is_added_for_a_patient_who_withdrew(clinics, tmp_path, make_patient,
                                                     make_administration, data_manager):
    from patients.services import patient_withdraw
    patient = make_patient(study_id="A-001", consented_on=dt.date(2025, 1, 10))
    make_administration(patient)
    patient_withdraw(patient=patient, withdrawn_on=dt.date(2025, 2, 1), reason="",
                     keep_collected_data=True, by=data_manager)
    path = write_cohort(tmp_path / "c.csv", [cohort_row("A-001", "followup", "2025-04-10")])
    assert ("line 2, column study_id: A-001 has withdrawn consent"
            in _import_errors(path))


def test_a_concurrent_write_of_the_same_patient_fails_cleanly(clinics, tmp_path, make_patient,
                                                              monkeypatch):
    make_patient(study_id="A-001", consented_on=dt.date(2025, 1, 10))
    # As if another import committed A-001 between our checks and our write.
    monkeypatch.setattr(reader, "_existing_patients", lambda study_ids: {})
    path = write_cohort(tmp_path / "c.csv", [cohort_row("A-002"), cohort_row("A-001")])
    report = _import_errors(path)
    assert "the database changed during the import" in report
    assert "run the import again" in report


def test_enrolment_after_an_import_continues_after_the_imported_study_ids(clinics, tmp_path,
                                                                          nurse_a):
    from patients.services import patient_enrol
    rows = [cohort_row("A-007"), cohort_row("A-003"), cohort_row("B-040", clinic="B")]
    call_command("import_cohort", str(write_cohort(tmp_path / "c.csv", rows)), stdout=None)
    patient = patient_enrol(clinic=Clinic.objects.get(code="A"), consented_on=timezone.localdate(),
                            consent_form_version="v1", consent_taken_by="N", by=nurse_a)
    assert patient.study_id == "A-008"
    assert Clinic.objects.get(code="B").next_patient_number == 41


def test_study_ids_follow_the_patient_fields_rule(clinics, tmp_path):
    rows = [cohort_row("A-X9"), cohort_row("a-001"), cohort_row("A-001")]
    report = _import_errors(write_cohort(tmp_path / "c.csv", rows))
    assert "line 2, column study_id: 'A-X9': Use the clinic code, a dash and a number" in report
    assert "line 3, column study_id: 'a-001'" in report
    assert "line 4" not in report
