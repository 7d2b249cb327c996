"""Import of a cohort CSV (DESIGN.md, "Cohort CSV"): validate everything, then write all or nothing.

Validation collects every error with its line and column instead of stopping at the first,
so a data manager fixes a file in one round. Cells are checked against lookup tables built
from the instrument definitions (one dict lookup per cell, so 200,000 rows validate in
seconds); a cell the table does not know is re-checked by the data-entry validator
(`services.validate_answers`), so import and data entry accept exactly the same answers.
The database is read in a few set-based queries (chunks of study IDs), never once per row.

Score columns (as in a file written by export_cohort) are accepted and ignored: scores are
always computed from the items. Patients created by an import get consent fields that say
where they came from:
consented_on = the patient's baseline date (or earliest administration date),
consent_form_version = "imported", consent_taken_by = "import from <file name>".
Administrations are stored complete, scored by `services.apply_scores` (the code data entry
uses; see questionnaires.bulk.scored), written in batches by questionnaires.bulk (COPY on
PostgreSQL), and recorded in the audit trail with the importing user and the reason
"imported from <file name>".
"""
from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from simple_history.utils import bulk_update_with_history

from analysis.refit import refit_request_after_commit
from clinics.models import Clinic
from patients.models import Education, Ethnicity, FollowUpStatus, Gender, Patient, Withdrawal

from .bulk import analyze, insert_with_history, scored
from .cohort_csv import IMPORT_COLUMNS
from .instruments import ITEM_CODES, ITEMS_BY_CODE, SCORE_CODES
from .models import Administration, AdministrationStatus, PihFormVersion, Timepoint
from .services import validate_answers

CHARACTERISTICS = ("age", "gender", "ethnicity", "education", "pain_years", "pain_sites")
IMPORTED_CONSENT_FORM_VERSION = "imported"
WRITE_BATCH = 20_000
QUERY_CHUNK = 900  # SQLite allows 999 parameters per query
MAX_KEPT_ERRORS = 10_000  # beyond this only the count grows (a file of garbage stays cheap)

_INVALID = object()  # a cell that failed validation: skipped by the cross-row checks
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, order=True)
class CohortError:
    """One problem in the file, at a line (1 = header) and, where it applies, a column."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}" if self.column else f"line {self.line}"
        return f"{where}: {self.message}"


class ErrorList:
    """Every error found; the first MAX_KEPT_ERRORS are kept, all are counted."""

    def __init__(self) -> None:
        self.kept: list[CohortError] = []
        self.count = 0

    def add(self, line: int, column: str, message: str) -> None:
        self.count += 1
        if len(self.kept) < MAX_KEPT_ERRORS:
            self.kept.append(CohortError(line, column, message))

    def __bool__(self) -> bool:
        return self.count > 0

    def sorted(self) -> list[CohortError]:
        return sorted(self.kept)


class CohortImportError(Exception):
    """The file has errors; nothing was written."""

    def __init__(self, errors: ErrorList) -> None:
        self.errors = errors.sorted()
        self.count = errors.count
        super().__init__(f"{self.count} error(s) in the cohort file; nothing was written.")

    def report(self, *, limit: int = 200) -> str:
        """One line per error, at most `limit` lines, then how many more there are."""
        lines = [str(error) for error in self.errors[:limit]]
        if self.count > len(lines):
            lines.append(f"... and {self.count - len(lines)} more ({self.count} errors in total)")
        return "\n".join(lines)


@dataclass
class Row:
    """One validated (or partly invalid) data row of the file."""

    line: int
    study_id: str
    clinic: object  # Clinic, or _INVALID
    timepoint: object
    administered_on: object
    characteristics: tuple
    answers: tuple


@dataclass
class ImportSummary:
    """What an import wrote (or, for a dry run, would write)."""

    rows: int
    patients_created: int
    patients_existing: int
    administrations_created: int
    followups_completed: int
    dry_run: bool

    def __str__(self) -> str:
        verb = "would create" if self.dry_run else "created"
        return (f"{self.rows} rows: {verb} {self.patients_created} patients and "
                f"{self.administrations_created} administrations "
                f"({self.patients_existing} patients already in the database; "
                f"{self.followups_completed} follow-ups completed).")


# -- cell validators -------------------------------------------------------------------------

def _int_table(minimum: int, maximum: int) -> dict[str, int | None]:
    return {"": None, **{str(value): value for value in range(minimum, maximum + 1)}}


_ITEM_TABLES = {code: _int_table(item.minimum, item.maximum)
                for code, item in ITEMS_BY_CODE.items()}
_NUMBER_RANGES = {"age": (18, 110), "pain_years": (0, 80), "pain_sites": (1, 20)}
_NUMBER_TABLES = {name: _int_table(*bounds) for name, bounds in _NUMBER_RANGES.items()}
_CHOICES = {"gender": Gender.values, "ethnicity": Ethnicity.values,
            "education": Education.values}
_CHOICE_TABLES = {name: {"": "", **{value: value for value in values}}
                  for name, values in _CHOICES.items()}


def _number_message(cell: str, minimum: int, maximum: int) -> str:
    try:
        number = int(cell)
    except ValueError:
        return f"'{cell}' is not a whole number"
    if str(number) != cell.strip():
        return f"'{cell}' is not a whole number"
    return f"{number} is outside {minimum}-{maximum}"


def _item_slow(code: str, cell: str, line: int, errors: ErrorList) -> object:
    """A cell outside the fast table: the data-entry validator decides."""
    try:
        return validate_answers({code: cell})[code]
    except ValidationError:
        item = ITEMS_BY_CODE[code]
        errors.add(line, code, _number_message(cell, item.minimum, item.maximum))
        return _INVALID


def _characteristic(name: str, cell: str, line: int, errors: ErrorList) -> object:
    if name in _NUMBER_TABLES:
        value = _NUMBER_TABLES[name].get(cell.strip(), _INVALID)
        if value is _INVALID:
            errors.add(line, name, _number_message(cell, *_NUMBER_RANGES[name]))
        return value
    value = _CHOICE_TABLES[name].get(cell.strip(), _INVALID)
    if value is _INVALID:
        errors.add(line, name, f"'{cell}' is not one of {', '.join(_CHOICES[name])} "
                               "(or empty)")
    return value


class _DateParser:
    """ISO dates, cached (a cohort has far fewer distinct dates than rows)."""

    def __init__(self) -> None:
        self.today = dt.date.today()
        self.cache: dict[str, object] = {}

    def __call__(self, cell: str, line: int, errors: ErrorList) -> object:
        cell = cell.strip()
        if cell not in self.cache:
            self.cache[cell] = self._parse(cell)
        value = self.cache[cell]
        if isinstance(value, str):
            errors.add(line, "administered_on", value)
            return _INVALID
        return value

    def _parse(self, cell: str) -> dt.date | str:
        if not cell:
            return "missing (a date YYYY-MM-DD is required)"
        if not _DATE_RE.fullmatch(cell):
            return f"'{cell}' is not a date in the form YYYY-MM-DD"
        try:
            value = dt.date.fromisoformat(cell)
        except ValueError:
            return f"{cell} is not a valid date"
        if value > self.today:
            return f"{cell} is in the future"
        return value


# -- reading the file ------------------------------------------------------------------------

def _check_header(header: list[str], errors: ErrorList) -> dict[str, int]:
    names = [name.strip() for name in header]
    positions: dict[str, int] = {}
    for position, name in enumerate(names):
        if name in SCORE_CODES:
            continue  # an export read back: scores are recomputed from the items, never read
        if name not in IMPORT_COLUMNS:
            errors.add(1, name or f"#{position + 1}", "unknown column")
        elif name in positions:
            errors.add(1, name, "column appears twice")
        else:
            positions[name] = position
    for name in IMPORT_COLUMNS:
        if name not in positions:
            errors.add(1, name, "missing column")
    return positions


def _parse_row(cells: list[str], line: int, pos: dict[str, int], clinics: dict[str, Clinic],
               parse_date: _DateParser, errors: ErrorList) -> Row:
    study_id = cells[pos["study_id"]].strip()
    if not study_id:
        errors.add(line, "study_id", "missing (a study ID is required)")
    elif len(study_id) > Patient._meta.get_field("study_id").max_length:
        errors.add(line, "study_id", f"'{study_id}' is longer than 20 characters")
    code = cells[pos["clinic"]].strip()
    clinic = clinics.get(code, _INVALID)
    if clinic is _INVALID:
        errors.add(line, "clinic", f"unknown clinic '{code}'")
    timepoint = cells[pos["timepoint"]].strip()
    if timepoint not in Timepoint.values:
        errors.add(line, "timepoint", f"'{timepoint}' is not baseline or followup")
        timepoint = _INVALID
    administered_on = parse_date(cells[pos["administered_on"]], line, errors)
    characteristics = tuple(_characteristic(name, cells[pos[name]], line, errors)
                            for name in CHARACTERISTICS)
    answers = []
    for code in ITEM_CODES:
        cell = cells[pos[code]]
        value = _ITEM_TABLES[code].get(cell, _INVALID)
        if value is _INVALID:
            value = _item_slow(code, cell, line, errors)
        answers.append(value)
    return Row(line, study_id, clinic, timepoint, administered_on, characteristics,
               tuple(answers))


def _read_rows(stream: TextIO, clinics: dict[str, Clinic], errors: ErrorList) -> list[Row]:
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        errors.add(1, "", "the file is empty (a header row is required)")
        return []
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    positions = _check_header(header, errors)
    if errors:
        return []  # without a sound header the cells cannot be told apart
    parse_date, width, rows = _DateParser(), len(header), []
    for cells in reader:
        line = reader.line_num
        if not cells:
            continue  # a blank line
        if len(cells) != width:
            errors.add(line, "", f"{len(cells)} fields, the header has {width}")
            continue
        rows.append(_parse_row(cells, line, positions, clinics, parse_date, errors))
    if not rows and not errors:
        errors.add(1, "", "the file has a header but no data rows")
    return rows


# -- checks across rows and against the database -------------------------------------------

def _patient_columns(row: Row) -> Iterator[tuple[str, object]]:
    yield "clinic", row.clinic
    yield from zip(CHARACTERISTICS, row.characteristics, strict=True)


def _shown(value: object) -> str:
    if isinstance(value, Clinic):
        return value.code
    return "empty" if value is None or value == "" else str(value)


def _check_file_consistency(rows: list[Row], errors: ErrorList) -> dict[str, list[Row]]:
    """Duplicates, disagreeing patient-level columns, follow-up dated before baseline."""
    by_patient: dict[str, list[Row]] = {}
    for row in rows:
        if row.study_id:
            by_patient.setdefault(row.study_id, []).append(row)
    for study_id, patient_rows in by_patient.items():
        first, seen = patient_rows[0], {}
        for row in patient_rows:
            if row.timepoint in seen:
                errors.add(row.line, "timepoint", f"{study_id} has a second {row.timepoint} "
                                                  f"(first on line {seen[row.timepoint].line})")
            elif row.timepoint is not _INVALID:
                seen[row.timepoint] = row
            if row is not first:
                _check_agrees(first, row, errors)
        _check_order(seen.get(Timepoint.BASELINE), seen.get(Timepoint.FOLLOWUP), errors)
    return by_patient


def _check_agrees(first: Row, row: Row, errors: ErrorList) -> None:
    for (name, expected), (_, value) in zip(_patient_columns(first), _patient_columns(row),
                                            strict=True):
        if _INVALID not in (expected, value) and expected != value:
            errors.add(row.line, name, f"{_shown(value)} disagrees with {_shown(expected)} on "
                                       f"line {first.line} (patient-level columns must agree)")


def _check_order(baseline: Row | None, followup: Row | None, errors: ErrorList) -> None:
    if baseline is None or followup is None:
        return
    if _INVALID in (baseline.administered_on, followup.administered_on):
        return
    if followup.administered_on <= baseline.administered_on:
        errors.add(followup.line, "administered_on",
                   f"follow-up {followup.administered_on} is not after the baseline "
                   f"{baseline.administered_on} (line {baseline.line})")


def _chunks(values: list, size: int = QUERY_CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _existing_patients(study_ids: list[str]) -> dict[str, Patient]:
    found: dict[str, Patient] = {}
    for chunk in _chunks(study_ids):
        for patient in Patient.objects.filter(study_id__in=chunk).select_related("clinic"):
            found[patient.study_id] = patient
    return found


def _existing_administrations(patients: Iterable[Patient]) -> dict[int, dict[str, dt.date]]:
    """{patient id: {timepoint: date}} for the given patients."""
    found: dict[int, dict[str, dt.date]] = {}
    for chunk in _chunks([patient.pk for patient in patients]):
        rows = (Administration.objects.filter(patient_id__in=chunk)
                .values_list("patient_id", "timepoint", "administered_on"))
        for patient_id, timepoint, administered_on in rows:
            found.setdefault(patient_id, {})[timepoint] = administered_on
    return found


def _withdrawn(patients: Iterable[Patient]) -> set[int]:
    withdrawn: set[int] = set()
    for chunk in _chunks([patient.pk for patient in patients]):
        withdrawn.update(Withdrawal.objects.filter(patient_id__in=chunk)
                         .values_list("patient_id", flat=True))
    return withdrawn


def _check_against_database(by_patient: dict[str, list[Row]], existing: dict[str, Patient],
                            stored: dict[int, dict[str, dt.date]], errors: ErrorList) -> None:
    withdrawn = _withdrawn(existing.values())
    for study_id, patient in existing.items():
        rows = by_patient[study_id]
        first = rows[0]
        for name, value in _patient_columns(first):
            if value is not _INVALID and getattr(patient, name) != value:
                errors.add(first.line, name, f"{study_id} exists in the database with "
                                             f"{name} {_shown(getattr(patient, name))}, "
                                             f"the file has {_shown(value)}")
        if patient.pk in withdrawn:
            errors.add(first.line, "study_id", f"{study_id} has withdrawn consent; no data "
                                               "can be added")
        _check_rows_against_stored(patient, rows, stored.get(patient.pk, {}), errors)


def _check_rows_against_stored(patient: Patient, rows: list[Row], stored: dict[str, dt.date],
                               errors: ErrorList) -> None:
    for row in rows:
        if row.timepoint in stored:
            errors.add(row.line, "timepoint", f"{patient.study_id} already has a "
                                              f"{row.timepoint} in the database")
            continue
        if row.administered_on is _INVALID:
            continue
        if row.administered_on < patient.consented_on:
            errors.add(row.line, "administered_on",
                       f"{row.administered_on} is before the consent date "
                       f"{patient.consented_on}")
        baseline_on = stored.get(Timepoint.BASELINE)
        if row.timepoint == Timepoint.FOLLOWUP and baseline_on and \
                row.administered_on <= baseline_on:
            errors.add(row.line, "administered_on",
                       f"follow-up {row.administered_on} is not after the baseline "
                       f"{baseline_on} in the database")


def _check_followups_have_baselines(by_patient: dict[str, list[Row]],
                                    existing: dict[str, Patient],
                                    stored: dict[int, dict[str, dt.date]],
                                    errors: ErrorList) -> None:
    for study_id, rows in by_patient.items():
        if any(row.timepoint == Timepoint.BASELINE for row in rows):
            continue
        patient = existing.get(study_id)
        if patient is not None and Timepoint.BASELINE in stored.get(patient.pk, {}):
            continue
        for row in rows:
            if row.timepoint == Timepoint.FOLLOWUP:
                errors.add(row.line, "timepoint", f"{study_id} has a follow-up but no "
                                                  "baseline (in the file or the database)")


def validate_cohort(stream: TextIO) -> tuple[list[Row], dict[str, list[Row]],
                                               dict[str, Patient]]:
    """Read and check the whole file; raise CohortImportError listing every error."""
    errors = ErrorList()
    clinics = {clinic.code: clinic for clinic in Clinic.objects.all()}
    rows = _read_rows(stream, clinics, errors)
    by_patient = _check_file_consistency(rows, errors)
    existing = _existing_patients(list(by_patient))
    stored = _existing_administrations(existing.values())
    _check_against_database(by_patient, existing, stored, errors)
    _check_followups_have_baselines(by_patient, existing, stored, errors)
    if errors:
        raise CohortImportError(errors)
    return rows, by_patient, existing


# -- writing ---------------------------------------------------------------------------------

def _new_patient(rows: list[Row], *, by_id: int | None, source: str) -> dict:
    first = rows[0]
    timepoints = {row.timepoint: row.administered_on for row in rows}
    consented_on = timepoints.get(Timepoint.BASELINE) or min(timepoints.values())
    completed = Timepoint.FOLLOWUP in timepoints
    return {
        "study_id": first.study_id, "clinic_id": first.clinic.pk, "consented_on": consented_on,
        "consent_form_version": IMPORTED_CONSENT_FORM_VERSION,
        "consent_taken_by": f"import from {source}"[:150], "created_by_id": by_id,
        "followup_status": FollowUpStatus.COMPLETED if completed else FollowUpStatus.ACTIVE,
        **dict(zip(CHARACTERISTICS, first.characteristics, strict=True)),
    }


def _administration(row: Row, patient_id: int, by_id: int | None) -> dict:
    answers = dict(zip(ITEM_CODES, row.answers, strict=True))
    return {"patient_id": patient_id, "timepoint": row.timepoint,
            "administered_on": row.administered_on, "status": AdministrationStatus.COMPLETE,
            "pih_form_version": PihFormVersion.CURRENT, "entered_by_id": by_id,
            **answers, **scored(answers, PihFormVersion.CURRENT)}


def _write(rows: list[Row], by_patient: dict[str, list[Row]], existing: dict[str, Patient], *,
           by: AbstractBaseUser | None, source: str) -> int:
    """Write patients, administrations and their history; return follow-ups completed."""
    reason = f"imported from {source}"
    by_id = by.pk if by is not None else None
    patient_ids = {study_id: patient.pk for study_id, patient in existing.items()}
    new = [(study_id, _new_patient(patient_rows, by_id=by_id, source=source))
           for study_id, patient_rows in by_patient.items() if study_id not in existing]
    for batch in _chunks(new, WRITE_BATCH):
        ids = insert_with_history(Patient, [values for _, values in batch],
                                  change_reason=reason, history_user_id=by_id)
        patient_ids.update(zip((study_id for study_id, _ in batch), ids, strict=True))
    for batch in _chunks(rows, WRITE_BATCH):
        insert_with_history(Administration,
                            [_administration(row, patient_ids[row.study_id], by_id)
                             for row in batch],
                            change_reason=reason, history_user_id=by_id)
    _advance_study_id_counters(new, by=by, reason=reason)
    return _complete_existing_followups(by_patient, existing, by=by, reason=reason)


def _advance_study_id_counters(new: list[tuple[str, dict]], *, by: AbstractBaseUser | None,
                               reason: str) -> None:
    """Move each clinic's study-ID counter past imported IDs of its own pattern (A-017), so
    the next enrolment does not step through every imported number one query at a time."""
    highest: dict[int, int] = {}
    codes = {clinic.pk: clinic.code for clinic in Clinic.objects.all()}
    for study_id, values in new:
        prefix, _, number = study_id.rpartition("-")
        if prefix == codes.get(values["clinic_id"]) and number.isdigit():
            clinic_id = values["clinic_id"]
            highest[clinic_id] = max(highest.get(clinic_id, 0), int(number))
    for clinic in Clinic.objects.select_for_update().filter(pk__in=list(highest)):
        if clinic.next_patient_number <= highest[clinic.pk]:
            clinic.next_patient_number = highest[clinic.pk] + 1
            clinic._history_user, clinic._change_reason = by, reason
            clinic.save(update_fields=["next_patient_number"])


def _complete_existing_followups(by_patient: dict[str, list[Row]],
                                 existing: dict[str, Patient], *, by: AbstractBaseUser | None,
                                 reason: str) -> int:
    """Existing patients whose follow-up arrives with the file are now completed."""
    changed = []
    for study_id, patient in existing.items():
        has_followup = any(row.timepoint == Timepoint.FOLLOWUP for row in by_patient[study_id])
        if has_followup and patient.followup_status != FollowUpStatus.COMPLETED:
            patient.followup_status, patient.lost_reason = FollowUpStatus.COMPLETED, ""
            patient._history_user = by
            changed.append(patient)
    if changed:
        bulk_update_with_history(changed, Patient, ["followup_status", "lost_reason"],
                                 batch_size=WRITE_BATCH, default_user=by,
                                 default_change_reason=f"follow-up completed ({reason})")
    return len(changed)


def import_cohort(*, stream: TextIO, source: str, by: AbstractBaseUser | None = None,
                  dry_run: bool = False) -> ImportSummary:
    """Validate the cohort CSV in `stream` and, unless dry_run, write it in one transaction.

    `source` (the file name) goes into the consent and audit-trail fields. Raises
    CohortImportError, listing every error with line and column, when anything is wrong;
    then nothing is written. A refit is requested once, after the import commits.
    """
    try:
        with transaction.atomic():
            rows, by_patient, existing = validate_cohort(stream)
            summary = ImportSummary(
                rows=len(rows), patients_created=len(by_patient) - len(existing),
                patients_existing=len(existing), administrations_created=len(rows),
                followups_completed=0, dry_run=dry_run)
            if dry_run:
                return summary
            summary.followups_completed = _write(
                rows, by_patient, existing, by=by, source=source)
            refit_request_after_commit(reason=f"{len(rows)} administrations imported "
                                              f"from {source}")
    except IntegrityError as exc:
        # Someone saved the same patient or administration between our check and our
        # write; the transaction is rolled back, so a second run sees their data.
        errors = ErrorList()
        errors.add(1, "", f"the database changed during the import ({exc}); nothing was "
                          "written, run the import again")
        raise CohortImportError(errors) from exc
    analyze(Patient, Administration)
    return summary
