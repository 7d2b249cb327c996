"""Import that cannot be abused: study IDs as enrolment checks them, unreadable and
oversized files refused with the line, nothing written on any error."""
from __future__ import annotations

import csv
import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from clinics.models import Clinic
from patients.models import Patient
from questionnaires.cohort_files.columns import IMPORT_COLUMNS
from questionnaires.cohort_files.importer import import_cohort
from questionnaires.cohort_files.reader import CohortImportError
from questionnaires.models import Administration
from questionnaires.tests.cohort_files import cohort_row, write_cohort

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinics(clinic_a, clinic_b):
    return clinic_a, clinic_b


def _snapshot() -> tuple[int, ...]:
    return (Patient.objects.count(), Administration.objects.count(),
            Patient.history.count(), Administration.history.count(),
            *Clinic.objects.order_by("code").values_list("next_patient_number", flat=True))


def _report(path) -> str:
    before, err = _snapshot(), StringIO()
    with pytest.raises(CommandError):
        call_command("import_cohort", str(path), stderr=err, stdout=StringIO())
    assert _snapshot() == before, "a failed import must write nothing"
    return err.getvalue()


@pytest.mark.parametrize("study_id", ["=1+2", "Z/../1", "A-0\n01", "A-001\u0000",
                                      "A-001\nB", "a-001", "A-01 1"])
def test_study_ids_enrolment_would_refuse_are_refused(clinics, tmp_path, study_id):
    path = write_cohort(tmp_path / "c.csv", [cohort_row("A-002"), cohort_row(study_id)])
    report = _report(path)
    assert "column study_id" in report or "NUL byte" in report


def test_a_study_id_of_another_clinic_is_refused(clinics, tmp_path):
    rows = [cohort_row("B-999"), cohort_row("A-001"), cohort_row("B-001", clinic="B")]
    report = _report(write_cohort(tmp_path / "c.csv", rows))
    assert report.splitlines() == [
        "line 2, column study_id: 'B-999': A study ID at this clinic starts with A-."]


def test_a_known_patient_keeps_the_id_it_has(clinics, tmp_path, nurse_a):
    """The prefix rule is for new IDs, as at enrolment: a patient imported before the rule
    (B-040 at clinic A) still gets their follow-up."""
    from patients.services import patient_enrol
    patient_enrol(clinic=clinics[0], study_id="B-040", consented_on=dt.date(2025, 1, 10),
                  consent_form_version="v1", consent_taken_by="N",
                  by=nurse_a, age=48, gender="female", ethnicity="white_british",
                  education="below_a_level", pain_years=6, pain_sites=2)
    summary = import_cohort(stream=StringIO(_csv([cohort_row("B-040")])), source="f.csv",
                            dry_run=True)
    assert (summary.patients_existing, summary.administrations_created) == (1, 1)


def _csv(rows: list[dict]) -> str:
    out = StringIO()
    writer = csv.writer(out)
    writer.writerow(IMPORT_COLUMNS)
    writer.writerows([row.get(column, "") for column in IMPORT_COLUMNS] for row in rows)
    return out.getvalue()


def test_a_nul_byte_names_its_line(clinics, tmp_path):
    path = write_cohort(tmp_path / "c.csv", [cohort_row("A-001"), cohort_row("A-002"),
                                             cohort_row("A-003", gender="fe\x00male")])
    assert _report(path).splitlines() == [
        "line 4: cannot be read: it contains a NUL byte; reading stopped at this line"]


def test_an_oversized_field_names_its_line(clinics, tmp_path):
    path = write_cohort(tmp_path / "c.csv", [cohort_row("A-001"),
                                             cohort_row("A-002", gender="x" * 200_000)])
    assert _report(path).splitlines() == [
        "line 3: cannot be read: a field is longer than 131,072 characters; reading "
        "stopped at this line"]


def test_a_file_over_the_size_limit_names_the_line_where_it_stops(clinics, tmp_path,
                                                                 settings):
    path = write_cohort(tmp_path / "c.csv", [cohort_row(f"A-{n:03d}") for n in range(1, 6)])
    header_and_two_rows = sum(len(line) for line in path.read_bytes().splitlines(True)[:3])
    settings.COHORT_IMPORT_MAX_BYTES = header_and_two_rows
    assert _report(path).splitlines() == [
        f"line 4: the file is larger than the import limit of {header_and_two_rows:,} bytes "
        "(setting COHORT_IMPORT_MAX_BYTES); reading stopped at this line"]
    settings.COHORT_IMPORT_MAX_BYTES = header_and_two_rows + 10_000
    call_command("import_cohort", str(path), stdout=StringIO())
    assert Patient.objects.count() == 5


def test_the_service_raises_the_same_errors(clinics):
    with pytest.raises(CohortImportError) as raised:
        import_cohort(stream=StringIO(_csv([cohort_row("A-001", gender="\x00")])),
                      source="f.csv")
    assert "NUL byte" in raised.value.report()
