"""Reading a cohort CSV for import (DESIGN.md, "Cohort CSV"): every cell and every rule
checked, every error collected with its line and column.

Validation collects every error instead of stopping at the first, so a data manager fixes
a file in one round. Cells are checked against lookup tables built from the instrument
definitions and the characteristics table (one dict lookup per cell, so 200,000 rows
validate in seconds); a cell the table does not know is re-checked by the data-entry
validator (`services.validate_answers`), so import and data entry accept exactly the same
answers. Study IDs follow the Patient field's validator, dates the rules of
questionnaires.dates, as at data entry. The database is read in a few set-based queries
(batches of study IDs), never once per row.

Score columns (as in a file written by export_cohort) are accepted and ignored: scores are
always computed from the items.
"""
from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from django.conf import settings
from django.core.exceptions import ValidationError

from clinics.models import Clinic
from patients.characteristics import CHARACTERISTIC_CODES, CHARACTERISTICS, Characteristic
from patients.models import Patient, Withdrawal
from patients.validators import study_id_validator, validate_study_id_clinic

from .. import dates
from ..instruments import ITEM_CODES, ITEMS_BY_CODE, SCORE_CODES
from ..models import Administration, Timepoint
from ..services import validate_answers
from .batching import batched
from .columns import IMPORT_COLUMNS

QUERY_CHUNK = 900  # SQLite allows 999 parameters per query
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
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


# -- cell validators -------------------------------------------------------------------------

def _int_table(minimum: int, maximum: int) -> dict[str, int | None]:
    return {"": None, **{str(value): value for value in range(minimum, maximum + 1)}}


_ITEM_TABLES = {code: _int_table(item.minimum, item.maximum)
                for code, item in ITEMS_BY_CODE.items()}
_CHARACTERISTIC_TABLES = {
    c.code: _int_table(c.minimum, c.maximum) if c.is_number
    else {"": "", **{code: code for code in c.values}}
    for c in CHARACTERISTICS}


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


def _characteristic(characteristic: Characteristic, cell: str, line: int,
                    errors: ErrorList) -> object:
    value = _CHARACTERISTIC_TABLES[characteristic.code].get(cell.strip(), _INVALID)
    if value is not _INVALID:
        return value
    if characteristic.is_number:
        message = _number_message(cell, characteristic.minimum, characteristic.maximum)
    else:
        message = f"'{cell}' is not one of {', '.join(characteristic.values)} (or empty)"
    errors.add(line, characteristic.code, message)
    return _INVALID


class _DateParser:
    """ISO dates, cached (a cohort has far fewer distinct dates than rows). Whether a date
    is allowed is checked later, with the patient's other dates (`_check_dates`)."""

    def __init__(self) -> None:
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


def _valid_study_id(study_id: str) -> bool:
    try:
        study_id_validator(study_id)
    except ValidationError:
        return False
    return True


def _check_study_id(study_id: str, line: int, errors: ErrorList) -> None:
    try:
        study_id_validator(study_id)
    except ValidationError as error:
        errors.add(line, "study_id", f"'{study_id}': {error.messages[0]}")


def _parse_row(cells: list[str], line: int, pos: dict[str, int], clinics: dict[str, Clinic],
               parse_date: _DateParser, errors: ErrorList) -> Row:
    study_id = cells[pos["study_id"]].strip()
    if not study_id:
        errors.add(line, "study_id", "missing (a study ID is required)")
    elif len(study_id) > Patient._meta.get_field("study_id").max_length:
        errors.add(line, "study_id", f"'{study_id}' is longer than 20 characters")
    else:
        _check_study_id(study_id, line, errors)
    code = cells[pos["clinic"]].strip()
    clinic = clinics.get(code, _INVALID)
    if clinic is _INVALID:
        errors.add(line, "clinic", f"unknown clinic '{code}'")
    timepoint = cells[pos["timepoint"]].strip()
    if timepoint not in Timepoint.values:
        errors.add(line, "timepoint", f"'{timepoint}' is not baseline or followup")
        timepoint = _INVALID
    administered_on = parse_date(cells[pos["administered_on"]], line, errors)
    characteristics = tuple(_characteristic(c, cells[pos[c.code]], line, errors)
                            for c in CHARACTERISTICS)
    answers = []
    for code in ITEM_CODES:
        cell = cells[pos[code]]
        value = _ITEM_TABLES[code].get(cell, _INVALID)
        if value is _INVALID:
            value = _item_slow(code, cell, line, errors)
        answers.append(value)
    return Row(line, study_id, clinic, timepoint, administered_on, characteristics,
               tuple(answers))


def max_bytes() -> int:
    """The largest file an import reads (setting COHORT_IMPORT_MAX_BYTES, default 200 MB)."""
    return getattr(settings, "COHORT_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES)


class _StopReading(Exception):
    """A line the import will not read (its message says why); raised before the csv
    module sees it."""


def _checked_lines(stream: TextIO, limit: int) -> Iterator[str]:
    """The stream's lines; a NUL byte (never in a text file) or more than `limit` bytes
    read so far stops the reading."""
    size = 0
    for text in stream:
        size += len(text.encode("utf-8", "surrogateescape"))
        if size > limit:
            raise _StopReading(f"the file is larger than the import limit of {limit:,} bytes "
                               "(setting COHORT_IMPORT_MAX_BYTES)")
        if "\x00" in text:
            raise _StopReading("cannot be read: it contains a NUL byte")
        yield text


def _csv_rows(stream: TextIO, errors: ErrorList) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of every row; a line that cannot be read (a NUL byte, a field over
    the csv module's limit, past the size limit) ends the file with an error naming it."""
    reader = csv.reader(_checked_lines(stream, max_bytes()))
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the line is read, so line_num counts it already
            errors.add(reader.line_num, "", f"cannot be read: {_csv_message(exc)}; "
                                            "reading stopped at this line")
            return
        except _StopReading as exc:  # raised before the csv module counted the line
            errors.add(reader.line_num + 1, "", f"{exc}; reading stopped at this line")
            return
        yield reader.line_num, cells


def _csv_message(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return str(exc)


def _read_rows(stream: TextIO, clinics: dict[str, Clinic], errors: ErrorList) -> list[Row]:
    lines = _csv_rows(stream, errors)
    _, header = next(lines, (1, None))
    if header is None:
        if not errors:
            errors.add(1, "", "the file is empty (a header row is required)")
        return []
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    positions = _check_header(header, errors)
    if errors:
        return []  # without a sound header the cells cannot be told apart
    parse_date, width, rows = _DateParser(), len(header), []
    for line, cells in lines:
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
    yield from zip(CHARACTERISTIC_CODES, row.characteristics, strict=True)


def _shown(value: object) -> str:
    if isinstance(value, Clinic):
        return value.code
    return "empty" if value is None or value == "" else str(value)


def _check_file_consistency(rows: list[Row], errors: ErrorList) -> dict[str, list[Row]]:
    """Duplicate timepoints and disagreeing patient-level columns within the file."""
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
    return by_patient


def _check_agrees(first: Row, row: Row, errors: ErrorList) -> None:
    for (name, expected), (_, value) in zip(_patient_columns(first), _patient_columns(row),
                                            strict=True):
        if _INVALID not in (expected, value) and expected != value:
            errors.add(row.line, name, f"{_shown(value)} disagrees with {_shown(expected)} on "
                                       f"line {first.line} (patient-level columns must agree)")


def _existing_patients(study_ids: list[str]) -> dict[str, Patient]:
    found: dict[str, Patient] = {}
    for chunk in batched(study_ids, QUERY_CHUNK):
        for patient in Patient.objects.filter(study_id__in=chunk).select_related("clinic"):
            found[patient.study_id] = patient
    return found


def _existing_administrations(patients: Iterable[Patient]) -> dict[int, dict[str, dt.date]]:
    """{patient id: {timepoint: date}} for the given patients."""
    found: dict[int, dict[str, dt.date]] = {}
    for chunk in batched([patient.pk for patient in patients], QUERY_CHUNK):
        rows = (Administration.objects.filter(patient_id__in=chunk)
                .values_list("patient_id", "timepoint", "administered_on"))
        for patient_id, timepoint, administered_on in rows:
            found.setdefault(patient_id, {})[timepoint] = administered_on
    return found


def _withdrawn(patients: Iterable[Patient]) -> set[int]:
    withdrawn: set[int] = set()
    for chunk in batched([patient.pk for patient in patients], QUERY_CHUNK):
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


def _check_dates(by_patient: dict[str, list[Row]], existing: dict[str, Patient],
                 stored: dict[int, dict[str, dt.date]], errors: ErrorList) -> None:
    """Each row's date against the rules of data entry (questionnaires.dates)."""
    today = dt.date.today()
    for study_id, rows in by_patient.items():
        patient = existing.get(study_id)
        in_database = stored.get(patient.pk, {}) if patient is not None else {}
        in_file = {row.timepoint: row for row in rows}
        for row in rows:
            if row.timepoint is _INVALID or row.timepoint in in_database:
                continue  # reported already
            other = _other_date(row, in_file, in_database)
            if row.administered_on is _INVALID or other is _INVALID:
                continue
            for problem in dates.date_problems(
                    timepoint=row.timepoint, administered_on=row.administered_on,
                    consented_on=patient.consented_on if patient else None,
                    other_on=other[0] if other else None, today=today):
                errors.add(row.line, dates.FIELDS[problem],
                           _date_message(problem, row, study_id, patient, other))


def _other_date(row: Row, in_file: dict[str, Row], in_database: dict[str, dt.date]) -> object:
    """(date, where) of the patient's other timepoint; None if there is none, _INVALID if
    its date is unreadable. A baseline and a follow-up both in the file are compared once,
    on the follow-up's line; a baseline in the file is compared with a stored follow-up."""
    other_timepoint = (Timepoint.FOLLOWUP if row.timepoint == Timepoint.BASELINE
                       else Timepoint.BASELINE)
    if other_timepoint in in_database:
        return in_database[other_timepoint], "in the database"
    other = in_file.get(other_timepoint)
    if other is None or row.timepoint == Timepoint.BASELINE:
        return None
    if other.administered_on is _INVALID:
        return _INVALID
    return other.administered_on, f"(line {other.line})"


def _date_message(problem: str, row: Row, study_id: str, patient: Patient | None,
                  other: tuple[dt.date, str] | None) -> str:
    if problem == dates.BEFORE_CONSENT:
        return f"{row.administered_on} is before the consent date {patient.consented_on}"
    if problem == dates.IN_FUTURE:
        return f"{row.administered_on} is in the future"
    if problem == dates.NO_BASELINE:
        return f"{study_id} has a follow-up but no baseline (in the file or the database)"
    other_on, where = other
    if row.timepoint == Timepoint.BASELINE:
        return f"baseline {row.administered_on} is not before the follow-up {other_on} {where}"
    return f"follow-up {row.administered_on} is not after the baseline {other_on} {where}"


def _check_new_study_ids(by_patient: dict[str, list[Row]], existing: dict[str, Patient],
                         errors: ErrorList) -> None:
    """A new patient's study ID starts with its clinic's code, as at enrolment (an ID in
    the database keeps the clinic it has: checked against the database instead)."""
    for study_id, rows in by_patient.items():
        first = rows[0]
        if study_id in existing or first.clinic is _INVALID or not _valid_study_id(study_id):
            continue  # known, or its other faults are reported already
        try:
            validate_study_id_clinic(study_id, first.clinic.code)
        except ValidationError as error:
            errors.add(first.line, "study_id", f"'{study_id}': {error.messages[0]}")


def validate_cohort(stream: TextIO) -> tuple[list[Row], dict[str, list[Row]],
                                               dict[str, Patient]]:
    """Read and check the whole file; raise CohortImportError listing every error."""
    errors = ErrorList()
    clinics = {clinic.code: clinic for clinic in Clinic.objects.all()}
    rows = _read_rows(stream, clinics, errors)
    by_patient = _check_file_consistency(rows, errors)
    existing = _existing_patients(list(by_patient))
    stored = _existing_administrations(existing.values())
    _check_new_study_ids(by_patient, existing, errors)
    _check_against_database(by_patient, existing, stored, errors)
    _check_dates(by_patient, existing, stored, errors)
    if errors:
        raise CohortImportError(errors)
    return rows, by_patient, existing


