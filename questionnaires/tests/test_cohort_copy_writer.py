"""Issue 18 item 5: on PostgreSQL the cohort CSV is written by COPY (writer_sql.py), and its
bytes are exactly those of the Python writer (csv.writer, the SQLite path), on a cohort
that exercises every formatting rule."""
import csv
import datetime as dt
import io
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from patients.models import Patient
from patients.services import patient_withdraw
from questionnaires.cohort_files import writer, writer_sql
from questionnaires.cohort_files.columns import EXPORT_COLUMNS, IMPORT_COLUMNS
from questionnaires.models import (
    Administration,
    AdministrationSource,
    MissingReason,
    PihFormVersion,
)
from questionnaires.services import administration_save
from tests.factories import full_answers
from tests.services import require_postgresql

# Scores as doubles, with the cell each must give (written by hand from the rule: the
# double read to 15 significant digits, then rounded half away from zero at 2 places).
SCORES = [
    (0.125, "0.13"), (0.375, "0.38"), (2.675, "2.68"), (1.005, "1.01"), (0.0, "0.00"),
    (8.333333333333343, "8.33"), (3.1249999999999996, "3.13"), (100.0, "100.00"),
    (4.5e-05, "0.00"), (6.665, "6.67"), (6.664999999999, "6.66"), (9.995, "10.00"),
    (25 / 3, "8.33"), (2 / 3, "0.67"), (0.005, "0.01"), (0.015, "0.02"), (5.5, "5.50"),
]
# Cells of a text column the database does not constrain (followup_status, varchar(10)):
# formula starts (neutralised), a comma, quotes and line breaks (quoted), empty.
TEXTS = ["=1+2", "+x", "-y", "@z", "\tt", "\rr", "a,b", 'say "hi"', "two\nlines",
         "cr\r\nlf", "", " lead", "ok", "\n", '"', "'q"]


@pytest.fixture
def varied(make_patient, nurse_a, clinic_b):
    """Missing items, stored reasons (declined), both PIH versions, drafts, withdrawn
    patients (kept and not kept), missing characteristics, edge scores, awkward text."""
    require_postgresql()
    patients = []
    for number in range(len(SCORES)):
        patient = make_patient(clinic=clinic_b if number % 2 else None,
                               gender="" if number % 5 == 0 else "male",
                               age=None if number % 4 == 0 else 30 + number,
                               pain_sites=None if number % 6 == 1 else 2)
        answers = full_answers(bpi=number % 11, ppic=1 + number % 5, pih=1 + number % 7)
        if number % 3 == 0:
            answers |= {"bpi_worst": None, "ppic_3": None, "pih_12": None}
        stored = ({"bpi_worst": MissingReason.DECLINED} if number % 3 == 0 and number % 2
                  else {})
        administration_save(
            patient=patient, timepoint="baseline", administered_on=patient.consented_on,
            answers=answers, by=nurse_a if not stored else None, complete=True,
            pih_form_version=PihFormVersion.REVERSED if number % 2 else
            PihFormVersion.CURRENT, missing_reasons=stored,
            **({"source": AdministrationSource.LINK} if stored else {}))
        if number % 3 != 2:
            administration_save(
                patient=patient, timepoint="followup",
                administered_on=patient.consented_on + dt.timedelta(days=91),
                answers=full_answers(bpi=(number + 3) % 11) | {"bpi_sleep": None},
                by=nurse_a, complete=number % 4 != 3)
        patients.append(patient)
    for patient, (score, _) in zip(patients, SCORES, strict=True):
        Administration.objects.filter(patient=patient, timepoint="baseline").update(
            bpi_severity=score)
    patient_withdraw(patient=patients[1], withdrawn_on=timezone.localdate(), reason="",
                     keep_collected_data=True, by=nurse_a)
    patient_withdraw(patient=patients[2], withdrawn_on=timezone.localdate(), reason="",
                     keep_collected_data=False, by=nurse_a)
    # (a withdrawal sets the status: the texts go to the others)
    for patient, text in zip(patients[:1] + patients[3:], TEXTS, strict=False):
        Patient.objects.filter(pk=patient.pk).update(followup_status=text)
    return patients


def _text(parts) -> str:
    return "".join(text for text, _ in parts)


@pytest.mark.parametrize("filters", [
    {}, {"include_drafts": True}, {"include_withdrawn_excluded": True},
    {"include_drafts": True, "include_withdrawn_excluded": True}])
def test_copy_writes_the_python_writers_bytes(varied, filters):
    python = _text(writer.python_csv_parts(**filters))
    copied = _text(writer.cohort_csv_parts(**filters))
    assert copied.encode() == python.encode()
    assert python.count("\r\n") > len(varied)


def test_the_cohort_really_is_varied(varied):
    """The identity above is only worth something if the file holds every case."""
    text = _text(writer.python_csv_parts(include_drafts=True, include_withdrawn_excluded=True))
    for needle in ("'=1+2", "'+x", "'-y", "'@z", "'\tt", "'\rr", '"a,b"', '"say ""hi"""',
                   '"two\nlines"', "bpi_worst:declined", "bpi_worst:not_answered",
                   "not_entered", "reversed", "current", "gender:not_recorded",
                   "age:not_recorded", "pain_sites:not_recorded"):
        assert needle in text, needle


def test_scores_are_rounded_as_the_rule_says_halves_included(varied):
    """Checked against cells written by hand, and against Decimal's own rounding."""
    position = EXPORT_COLUMNS.index("bpi_severity")
    text = _text(writer.cohort_csv_parts(include_withdrawn_excluded=True))
    cells = {row[0]: row[position] for row in csv.reader(io.StringIO(text, newline=""))
             if row[2] == "baseline"}
    for patient, (score, expected) in zip(varied, SCORES, strict=True):
        assert cells[patient.study_id] == expected, score
        assert expected == str(Decimal(f"{score:.15g}").quantize(Decimal("0.01"),
                                                                 ROUND_HALF_UP))


def test_row_counts_and_a_restricted_cohort(varied, clinic_b):
    parts = list(writer.cohort_csv_parts(patients_qs=Patient.objects.filter(clinic=clinic_b)))
    python = list(writer.python_csv_parts(patients_qs=Patient.objects.filter(clinic=clinic_b)))
    assert _text(parts) == _text(python)
    assert sum(rows for _, rows in parts) == sum(rows for _, rows in python) > 0
    assert all(",B," in line for line in _text(parts).split("\r\n")[1:-1]
               if line and line[0].isalpha() and line[1] == "-")


def test_export_cohort_writes_the_same_file_and_count(varied, tmp_path):
    out = io.StringIO()
    call_command("export_cohort", str(tmp_path / "c.csv"), stdout=out)
    python = _text(writer.python_csv_parts())
    assert (tmp_path / "c.csv").read_bytes() == python.encode()
    rows = sum(rows for _, rows in writer.python_csv_parts())
    assert f"Wrote {rows} rows" in out.getvalue()


def test_an_abandoned_stream_stops_the_copy_and_frees_the_connection(varied, monkeypatch):
    monkeypatch.setattr(writer_sql, "CHUNK_BYTES", 64)  # many chunks from a small cohort
    monkeypatch.setattr(writer_sql, "QUEUE_CHUNKS", 1)
    parts = writer.cohort_csv_parts()
    next(parts)
    next(parts)
    parts.close()
    with connection.cursor() as cursor:  # usable again at once
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_column_of_an_unknown_type_is_refused_not_written_differently(monkeypatch):
    monkeypatch.setattr(writer_sql, "EXPORT_LOOKUPS",
                        ("patient__created_at", *writer_sql.EXPORT_LOOKUPS[1:]))
    with pytest.raises(NotImplementedError, match="study_id: no SQL format"):
        writer_sql._cell("study_id", 0, [])


def test_the_import_calls_the_per_patient_write_check_and_writes_nothing_on_error(
        clinic_a, monkeypatch, tmp_path):
    """The write step's per-patient hook (importer.check_patient_writable): an error it
    adds stops the import, names line and column, and leaves nothing written."""
    from questionnaires.cohort_files import importer
    from questionnaires.cohort_files.reader import CohortImportError

    from .cohort_files import cohort_row, write_cohort

    seen = []

    def refuse_a_002(*, study_id, line, patient, errors):
        seen.append((study_id, line, patient))
        if study_id == "A-002":
            errors.add(line, "study_id", "record locked")

    monkeypatch.setattr(importer, "check_patient_writable", refuse_a_002)
    path = tmp_path / "c.csv"
    write_cohort(path, [cohort_row("A-001", "baseline", "2025-01-10"),
                        cohort_row("A-002", "baseline", "2025-01-10"),
                        cohort_row("A-002", "followup", "2025-04-10")])
    with path.open(encoding="utf-8", newline="") as stream, \
            pytest.raises(CohortImportError) as caught:
        importer.import_cohort(stream=stream, source="c.csv")
    assert [str(e) for e in caught.value.errors] == ["line 3, column study_id: record locked"]
    assert seen == [("A-001", 2, None), ("A-002", 3, None)]
    assert not Patient.objects.exists() and not Administration.objects.exists()
    with path.open(encoding="utf-8", newline="") as stream:  # a dry run does not write
        importer.import_cohort(stream=stream, source="c.csv", dry_run=True)
    assert len(seen) == 2


def test_the_follow_up_columns_make_a_new_patient_lost_and_their_absence_active(clinic_a,
                                                                               tmp_path):
    """followup_status and lost_reason (the export's last columns) are read for a new
    patient, so that an exported lost patient imports back lost; an older file without
    them imports the patient active, as before."""
    from questionnaires.cohort_files.importer import import_cohort

    from .cohort_files import cohort_row, write_cohort

    rows = [cohort_row("A-001", "baseline", "2025-01-10")]
    write_cohort(tmp_path / "old.csv", rows)
    write_cohort(tmp_path / "new.csv", [row | {"followup_status": "lost",
                                               "lost_reason": "did_not_attend"}
                                        for row in rows],
                 (*IMPORT_COLUMNS, "followup_status", "lost_reason"))
    for name, expected in (("new.csv", ("lost", "did_not_attend")), ("old.csv", ("active", ""))):
        with (tmp_path / name).open(encoding="utf-8", newline="") as stream:
            import_cohort(stream=stream, source=name)
        patient = Patient.objects.get()
        assert (patient.followup_status, patient.lost_reason) == expected
        Administration.objects.all().delete()
        Patient.objects.all().delete()
