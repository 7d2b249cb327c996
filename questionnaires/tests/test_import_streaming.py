"""import_cohort keeps a summary per patient, never the file's rows, and writes from a
second reading of the file (the memory of a 1,000,000-row import: bench/README.md)."""
from __future__ import annotations

import gc
import inspect
from io import StringIO

import pytest

from patients.models import FollowUpStatus, Patient
from questionnaires.cohort_files import importer, reader
from questionnaires.cohort_files.importer import import_cohort
from questionnaires.cohort_files.reader import CohortImportError, ErrorList, Row
from questionnaires.models import Administration
from questionnaires.tests.cohort_files import cohort_row, write_cohort

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinics(clinic_a, clinic_b):
    return clinic_a, clinic_b


def _text(rows, tmp_path) -> str:
    return write_cohort(tmp_path / "c.csv", rows).read_text(encoding="utf-8")


def _pairs(count: int) -> list[dict[str, str]]:
    return [row for n in range(1, count + 1)
            for row in (cohort_row(f"A-{n:03d}", "baseline", "2025-01-10"),
                        cohort_row(f"A-{n:03d}", "followup", "2025-04-10"))]


def test_rows_are_read_one_at_a_time(clinics, tmp_path):
    lines = _text(_pairs(20), tmp_path).splitlines(keepends=True)
    pulled = []

    def stream():
        for line in lines:
            pulled.append(line)
            yield line

    rows = reader.read_rows(stream(), reader.clinics_by_code(), ErrorList())
    assert inspect.isgenerator(rows)
    first = next(rows)
    assert (first.line, first.study_id, first.timepoint) == (2, "A-001", "baseline")
    assert len(pulled) == 2, "only the header and the first row are read so far"


def test_validation_keeps_a_summary_per_patient_and_no_rows(clinics, tmp_path):
    text = _text(_pairs(30) + [cohort_row("B-001", clinic="B", age="60")], tmp_path)
    gc.collect()
    rows_before = sum(isinstance(o, Row) for o in gc.get_objects())
    summaries, existing = reader.validate_cohort(StringIO(text))
    gc.collect()
    assert sum(isinstance(o, Row) for o in gc.get_objects()) <= rows_before + 1, \
        "at most the latest patient's first row is still referenced"
    assert (len(summaries), summaries.rows, existing) == (31, 61, {})
    number = summaries.index["A-007"]
    assert [(line, tp, str(on)) for line, tp, on in summaries.timepoints(number)] == [
        (14, "baseline", "2025-01-10"), (15, "followup", "2025-04-10")]
    b = summaries.first(summaries.index["B-001"])
    assert (b.line, b.clinic.code, b.characteristics[0]) == (62, "B", 60)


def test_disagreement_with_a_patients_earlier_row_is_found_without_its_row(clinics, tmp_path):
    # A-001's rows are far apart: its first row is read back from the summary.
    rows = [cohort_row("A-001"), *_pairs(40)[2:], cohort_row("A-001", "followup", "2025-04-10",
                                                               gender="male")]
    with pytest.raises(CohortImportError) as excinfo:
        reader.validate_cohort(StringIO(_text(rows, tmp_path)))
    assert [str(e) for e in excinfo.value.errors] == [
        "line 81, column gender: male disagrees with female on line 2 (patient-level columns "
        "must agree)"]


def test_a_repeated_timepoint_is_still_checked_like_every_row(clinics, tmp_path):
    rows = [cohort_row("A-001", "followup", "2025-04-10"),
            cohort_row("A-001", "followup", "2025-05-10")]
    with pytest.raises(CohortImportError) as excinfo:
        reader.validate_cohort(StringIO(_text(rows, tmp_path)))
    assert [str(e) for e in excinfo.value.errors] == [
        "line 2, column timepoint: A-001 has a follow-up but no baseline (in the file or the "
        "database)",
        "line 3, column timepoint: A-001 has a follow-up but no baseline (in the file or the "
        "database)",
        "line 3, column timepoint: A-001 has a second followup (first on line 2)"]


def test_the_write_reads_the_file_again(clinics, tmp_path, monkeypatch):
    reads = []
    real = importer.read_rows
    monkeypatch.setattr(importer, "read_rows",
                        lambda *args: reads.append(1) or real(*args))
    import_cohort(stream=StringIO(_text(_pairs(3), tmp_path)), source="c.csv")
    assert reads == [1]
    assert Administration.objects.filter(patient__study_id="A-003",
                                         timepoint="followup").exists()
    assert Patient.objects.get(study_id="A-002").followup_status == FollowUpStatus.COMPLETED


@pytest.mark.parametrize("second", [
    [cohort_row("A-001"), cohort_row("A-002", administered_on="2025-01-11")],  # another date
    [cohort_row("A-001")],  # a row less
    [cohort_row("A-001"), cohort_row("A-002", pih_1="9")],  # an invalid cell
])
def test_a_file_that_changed_between_the_readings_writes_nothing(clinics, tmp_path,
                                                                  monkeypatch, second):
    first = _text([cohort_row("A-001"), cohort_row("A-002")], tmp_path)
    changed = _text(second, tmp_path)
    real = importer.read_rows
    monkeypatch.setattr(importer, "read_rows",
                        lambda stream, *args: real(StringIO(changed), *args))
    with pytest.raises(CohortImportError) as excinfo:
        import_cohort(stream=StringIO(first), source="c.csv")
    assert "c.csv changed during the import" in excinfo.value.report()
    assert (Patient.objects.count(), Administration.objects.count()) == (0, 0)
    assert Patient.history.count() == 0


class _OneWay(StringIO):
    """A stream that cannot be rewound (a pipe, a network upload)."""

    def seekable(self) -> bool:
        return False


def test_a_stream_that_cannot_be_rewound_is_copied_first(clinics, tmp_path):
    summary = import_cohort(stream=_OneWay(_text(_pairs(2), tmp_path)), source="c.csv")
    assert (summary.patients_created, summary.administrations_created) == (2, 4)
    assert Administration.objects.count() == 4
