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
always computed from the items. The columns export added later, pih_form_version and
missing_reasons, are optional (a file in the older layout has neither): the form version
defaults to the current form, and each reason given must be the one the import stores
for that empty cell (an imported administration is complete: an empty item is
not_answered, or declined (Prefer not to answer), an empty characteristic not_recorded,
an empty score too_few_items). The items' reasons given are stored as the
administration's missing_reasons, as self-completion stores them.

followup_status and lost_reason (optional, together) matter for a patient new to the
database only: one the file calls lost is created lost, with its reason, so that an
exported cohort imports back as it was. Active and completed follow the file's rows (a
follow-up row completes), and an existing patient's status stays the follow-up
workflow's: the file never changes it.
"""
from __future__ import annotations

import csv
import datetime as dt
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple, TextIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinics.models import Clinic
from patients.characteristics import CHARACTERISTIC_CODES, CHARACTERISTICS, Characteristic
from patients.models import FollowUpStatus, LostReason, Patient, Withdrawal
from patients.validators import study_id_validator, validate_study_id_clinic

from .. import dates
from ..instruments import ITEM_CODES, ITEMS_BY_CODE, SCORE_CODES
from ..models import Administration, PihFormVersion, Timepoint
from ..services import validate_answers
from .batching import batched
from .columns import (
    FOLLOWUP_STATUS,
    IMPORT_COLUMNS,
    LOST_REASON,
    OPTIONAL_IMPORT_COLUMNS,
    PATIENT_STATUS_COLUMNS,
    PIH_FORM_VERSION,
)
from .missing import (
    REASON_COLUMNS,
    REASONS_COLUMN,
    STORED_REASONS,
    column_reason,
    parse_reasons,
)

QUERY_CHUNK = 900  # SQLite allows 999 parameters per query
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
MAX_KEPT_ERRORS = 10_000  # beyond this only the count grows (a file of garbage stays cheap)

_INVALID = object()  # a cell that failed validation: skipped by the cross-row checks
_TIMEPOINTS = tuple(Timepoint.values)  # Timepoint.values builds a new list at every use
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


@dataclass(slots=True)
class Row:
    """One validated (or partly invalid) data row of the file."""

    line: int
    study_id: str
    clinic: object  # Clinic, or _INVALID
    timepoint: object
    administered_on: object
    characteristics: tuple
    answers: tuple
    pih_form_version: object = PihFormVersion.CURRENT
    missing_reasons: dict = field(default_factory=dict)  # item code -> stored reason
    lost_reason: object = None  # the file calls the patient lost, for this reason ("" none)


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
            continue  # an export read back: scores are recomputed from the items
        if name not in (*IMPORT_COLUMNS, *OPTIONAL_IMPORT_COLUMNS, *PATIENT_STATUS_COLUMNS):
            errors.add(1, name or f"#{position + 1}", "unknown column")
        elif name in positions:
            errors.add(1, name, "column appears twice")
        else:
            positions[name] = position
    for name in IMPORT_COLUMNS:
        if name not in positions:
            errors.add(1, name, "missing column")
    status_columns = [name in positions for name in PATIENT_STATUS_COLUMNS]
    if any(status_columns) and not all(status_columns):
        missing = PATIENT_STATUS_COLUMNS[status_columns.index(False)]
        errors.add(1, missing, "missing column (followup_status and lost_reason go "
                               "together)")
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
    if timepoint not in _TIMEPOINTS:
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
    pih_form_version = (_pih_form_version(cells[pos[PIH_FORM_VERSION]], line, errors)
                        if PIH_FORM_VERSION in pos else PihFormVersion.CURRENT)
    reasons = _item_reasons(cells, pos, line, errors) if REASONS_COLUMN in pos else {}
    lost = _lost_reason(cells, pos, line, errors) if LOST_REASON in pos else None
    return Row(line, study_id, clinic, timepoint, administered_on, characteristics,
               tuple(answers), pih_form_version, reasons, lost)


_FOLLOWUP_STATUSES = ("", *FollowUpStatus.values)
_LOST_REASONS = ("", *LostReason.values)


def _lost_reason(cells: list[str], pos: dict[str, int], line: int,
                 errors: ErrorList) -> str | None:
    """The reason the row's patient was lost ("" if none was recorded), or None if the
    file does not call the patient lost."""
    status, reason = cells[pos[FOLLOWUP_STATUS]].strip(), cells[pos[LOST_REASON]].strip()
    if status not in _FOLLOWUP_STATUSES:
        errors.add(line, FOLLOWUP_STATUS,
                   f"'{status}' is not {', '.join(FollowUpStatus.values)} or empty")
    elif reason not in _LOST_REASONS:
        errors.add(line, LOST_REASON,
                   f"'{reason}' is not {', '.join(LostReason.values)} or empty")
    elif status != FollowUpStatus.LOST and reason:
        errors.add(line, LOST_REASON, f"'{reason}' given, but followup_status is "
                                      f"{_shown(status)}, not lost")
    elif status == FollowUpStatus.LOST:
        return reason
    return None


_PIH_FORM_VERSIONS = tuple(PihFormVersion.values)
_REASON_COLUMN_SET = frozenset(REASON_COLUMNS)
_ITEM_CODE_SET = frozenset(ITEM_CODES)


def _pih_form_version(cell: str, line: int, errors: ErrorList) -> object:
    value = cell.strip()
    if value in _PIH_FORM_VERSIONS:
        return value
    errors.add(line, PIH_FORM_VERSION,
               f"'{cell}' is not {' or '.join(_PIH_FORM_VERSIONS)}" if value
               else f"missing ({' or '.join(_PIH_FORM_VERSIONS)})")
    return _INVALID


def _item_reasons(cells: list[str], pos: dict[str, int], line: int,
                  errors: ErrorList) -> dict[str, str]:
    """The items' reasons of the row's missing_reasons cell ({} if it is empty), to be
    stored. Each reason must name an empty cell of a column that can be missing, with a
    reason an imported (complete) administration can have for it: the derived one, or
    for an item also declined."""
    cell = cells[pos[REASONS_COLUMN]]
    if not cell:
        return {}
    try:
        reasons = parse_reasons(cell)
    except ValueError as exc:
        errors.add(line, REASONS_COLUMN, str(exc))
        return {}
    stored: dict[str, str] = {}
    for column, reason in reasons.items():
        if column not in _REASON_COLUMN_SET:
            errors.add(line, REASONS_COLUMN, f"'{column}' is not a column that can be "
                                             "missing")
        elif column in pos and cells[pos[column]].strip():
            errors.add(line, REASONS_COLUMN, f"gives a reason for {column}, which is not "
                                             "empty")
        elif column in _ITEM_CODE_SET and reason.code in STORED_REASONS:
            stored[column] = reason.code
        elif reason != column_reason(column):
            allowed = column_reason(column).code
            if column in _ITEM_CODE_SET:
                allowed = " or ".join(STORED_REASONS)
            errors.add(line, REASONS_COLUMN,
                       f"{column}:{reason.code} cannot be imported (an imported "
                       f"administration is complete: an empty {column} is {allowed})")
    # Sorted by item code, as administration_save stores them.
    return dict(sorted(stored.items()))


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


def read_rows(stream: TextIO, clinics: dict[str, Clinic], errors: ErrorList) -> Iterator[Row]:
    """The file's data rows, parsed and cell-checked one at a time (a generator: the caller
    decides what to keep of each, so memory does not grow with the file)."""
    lines = _csv_rows(stream, errors)
    _, header = next(lines, (1, None))
    if header is None:
        if not errors:
            errors.add(1, "", "the file is empty (a header row is required)")
        return
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    positions = _check_header(header, errors)
    if errors:
        return  # without a sound header the cells cannot be told apart
    parse_date, width, count = _DateParser(), len(header), 0
    for line, cells in lines:
        if not cells:
            continue  # a blank line
        if len(cells) != width:
            errors.add(line, "", f"{len(cells)} fields, the header has {width}")
            continue
        count += 1
        yield _parse_row(cells, line, positions, clinics, parse_date, errors)
    if not count and not errors:
        errors.add(1, "", "the file has a header but no data rows")


# -- what is kept of each patient ----------------------------------------------------------

class _Codes:
    """The values a column can take, as small integer codes (-1: the cell was invalid), so
    that a patient's columns fit in a few bytes of an array."""

    def __init__(self, values: Iterable[object]) -> None:
        self.values = list(dict.fromkeys(values))
        self.codes = {value: code for code, value in enumerate(self.values)}

    def code(self, value: object) -> int:
        return -1 if value is _INVALID else self.codes[value]

    def value(self, code: int) -> object:
        return _INVALID if code < 0 else self.values[code]


_CHARACTERISTIC_CODES = [_Codes(_CHARACTERISTIC_TABLES[c.code].values()) for c in CHARACTERISTICS]
_NO_DATE = 0  # an unreadable date (a real date's ordinal is at least 1)


class PatientSummaries:
    """What the cross-row checks and the write need of each patient in the file, instead of
    its rows: the first row's line, clinic and characteristics, and each timepoint's line
    and date, in arrays indexed by the patient's number (file order). Rows repeating a
    timepoint (an error already) are kept aside, so their checks stay those of every row.
    About 150 bytes a patient, most of it the study ID and its dict entry."""

    def __init__(self, clinics: dict[str, Clinic]) -> None:
        self.index: dict[str, int] = {}
        self.rows = 0
        self._clinics = _Codes(clinics.values())
        self._first_line = array("i")
        self._clinic = array("h")
        self._characteristics = array("h")  # len(CHARACTERISTICS) codes a patient
        self._line = {timepoint: array("i") for timepoint in _TIMEPOINTS}  # 0: none
        self._date = {timepoint: array("i") for timepoint in _TIMEPOINTS}
        self.repeated: list[tuple[int, int, str, object]] = []  # (patient, line, tp, date)
        # The last new patient's first row: a patient's rows are usually adjacent, so most
        # rows are compared with it without decoding the arrays.
        self._latest: tuple[int, Row] | None = None
        self.lost: dict[int, str] = {}  # patient number -> reason, for those the file calls lost

    def __len__(self) -> int:
        return len(self.index)

    def add(self, row: Row, errors: ErrorList) -> None:
        """Keep what the checks need of a row; report a repeated timepoint or patient-level
        columns that disagree with the patient's first row."""
        self.rows += 1
        if not row.study_id:
            return
        number = self.index.get(row.study_id)
        if number is None:
            number = self._new(row)
        else:
            latest = self._latest
            first = latest[1] if latest[0] == number else self.first(number)
            if first.characteristics != row.characteristics or first.clinic != row.clinic:
                _check_agrees(first, row, errors)
            if self.lost.get(number) != row.lost_reason:
                errors.add(row.line, FOLLOWUP_STATUS,
                           f"disagrees with line {self.first_line(number)} (the follow-up "
                           "status and reason lost are the patient's: its rows must agree)")
        if row.timepoint is _INVALID:
            return
        first_line = self._line[row.timepoint][number]
        if first_line:
            errors.add(row.line, "timepoint", f"{row.study_id} has a second {row.timepoint} "
                                              f"(first on line {first_line})")
            self.repeated.append((number, row.line, row.timepoint, row.administered_on))
            return
        self._line[row.timepoint][number] = row.line
        self._date[row.timepoint][number] = (_NO_DATE if row.administered_on is _INVALID
                                             else row.administered_on.toordinal())

    def _new(self, row: Row) -> int:
        number = self.index[row.study_id] = len(self.index)
        self._first_line.append(row.line)
        self._clinic.append(self._clinics.code(row.clinic))
        self._characteristics.extend(codes.code(value) for codes, value
                                     in zip(_CHARACTERISTIC_CODES, row.characteristics,
                                            strict=True))
        for timepoint in _TIMEPOINTS:
            self._line[timepoint].append(0)
            self._date[timepoint].append(_NO_DATE)
        if row.lost_reason is not None:
            self.lost[number] = row.lost_reason
        self._latest = (number, row)
        return number

    def first(self, number: int) -> Row:
        """The patient's first row, without its answers (line, clinic, characteristics)."""
        width = len(CHARACTERISTICS)
        codes = self._characteristics[number * width:(number + 1) * width]
        characteristics = tuple(c.value(code) for c, code in zip(_CHARACTERISTIC_CODES, codes,
                                                                 strict=True))
        return Row(self._first_line[number], "", self._clinics.value(self._clinic[number]),
                   _INVALID, _INVALID, characteristics, ())

    def clinic(self, number: int) -> object:
        return self._clinics.value(self._clinic[number])

    def first_line(self, number: int) -> int:
        """The line of the patient's first row."""
        return self._first_line[number]

    def timepoints(self, number: int) -> list[tuple[int, str, object]]:
        """(line, timepoint, date) of the patient's rows with a valid timepoint, in file
        order; the date is _INVALID if unreadable."""
        found = [(self._line[tp][number], tp, self._date_of(self._date[tp][number]))
                 for tp in _TIMEPOINTS if self._line[tp][number]]
        found += [(line, tp, on) for patient, line, tp, on in self._repeated_of(number)]
        return sorted(found, key=lambda item: item[0])

    def _repeated_of(self, number: int) -> list[tuple[int, int, str, object]]:
        if not self.repeated:
            return []
        if not hasattr(self, "_repeated_by_patient"):
            self._repeated_by_patient: dict[int, list] = {}
            for item in self.repeated:
                self._repeated_by_patient.setdefault(item[0], []).append(item)
        return self._repeated_by_patient.get(number, [])

    @staticmethod
    def _date_of(ordinal: int) -> object:
        return _INVALID if ordinal == _NO_DATE else dt.date.fromordinal(ordinal)

    def has(self, number: int, timepoint: str) -> bool:
        return self._line[timepoint][number] != 0

    def matches(self, row: Row) -> bool:
        """Whether a row read again is the one this summary kept (the file did not change
        in between): its patient, line, timepoint and date."""
        number = self.index.get(row.study_id)
        if number is None or row.timepoint is _INVALID or row.administered_on is _INVALID:
            return False
        return (self._line[row.timepoint][number] == row.line
                and self._date[row.timepoint][number] == row.administered_on.toordinal())


def summarise(stream: TextIO, clinics: dict[str, Clinic], errors: ErrorList
              ) -> PatientSummaries:
    """Read the file once, keeping only the per-patient summary (never the rows)."""
    summaries = PatientSummaries(clinics)
    for row in read_rows(stream, clinics, errors):
        summaries.add(row, errors)
    return summaries


# -- checks across rows and against the database -------------------------------------------

def _patient_columns(row: Row) -> Iterator[tuple[str, object]]:
    yield "clinic", row.clinic
    yield from zip(CHARACTERISTIC_CODES, row.characteristics, strict=True)


def _shown(value: object) -> str:
    if isinstance(value, Clinic):
        return value.code
    return "empty" if value is None or value == "" else str(value)


def _check_agrees(first: Row, row: Row, errors: ErrorList) -> None:
    for (name, expected), (_, value) in zip(_patient_columns(first), _patient_columns(row),
                                            strict=True):
        if _INVALID not in (expected, value) and expected != value:
            errors.add(row.line, name, f"{_shown(value)} disagrees with {_shown(expected)} on "
                                       f"line {first.line} (patient-level columns must agree)")


class KnownPatient(NamedTuple):
    """What the import reads of a patient already in the database (a tuple, not a model
    instance: a file may name hundreds of thousands of them)."""

    pk: int
    study_id: str
    clinic: Clinic
    consented_on: dt.date
    followup_status: str
    characteristics: tuple

    def __getattr__(self, name: str) -> object:  # the characteristics by their codes
        try:
            return self.characteristics[CHARACTERISTIC_CODES.index(name)]
        except ValueError:
            raise AttributeError(name) from None


def _existing_patients(study_ids: list[str]) -> dict[str, KnownPatient]:
    clinics = Clinic.objects.in_bulk()
    found: dict[str, KnownPatient] = {}
    for chunk in batched(study_ids, QUERY_CHUNK):
        rows = Patient.objects.filter(study_id__in=chunk).values_list(
            "pk", "study_id", "clinic_id", "consented_on", "followup_status",
            *CHARACTERISTIC_CODES)
        for pk, study_id, clinic_id, consented_on, status, *characteristics in rows:
            found[study_id] = KnownPatient(pk, study_id, clinics[clinic_id], consented_on,
                                           status, tuple(characteristics))
    return found


def _existing_administrations(patients: Iterable[KnownPatient]
                              ) -> dict[int, dict[str, dt.date]]:
    """{patient id: {timepoint: date}} for the given patients."""
    found: dict[int, dict[str, dt.date]] = {}
    for chunk in batched([patient.pk for patient in patients], QUERY_CHUNK):
        rows = (Administration.objects.filter(patient_id__in=chunk)
                .values_list("patient_id", "timepoint", "administered_on"))
        for patient_id, timepoint, administered_on in rows:
            found.setdefault(patient_id, {})[timepoint] = administered_on
    return found


def _withdrawn(patients: Iterable[KnownPatient]) -> set[int]:
    withdrawn: set[int] = set()
    for chunk in batched([patient.pk for patient in patients], QUERY_CHUNK):
        withdrawn.update(Withdrawal.objects.filter(patient_id__in=chunk)
                         .values_list("patient_id", flat=True))
    return withdrawn


def _check_against_database(summaries: PatientSummaries, existing: dict[str, KnownPatient],
                            stored: dict[int, dict[str, dt.date]], errors: ErrorList) -> None:
    withdrawn = _withdrawn(existing.values())
    for study_id, patient in existing.items():
        number = summaries.index[study_id]
        first = summaries.first(number)
        for name, value in _patient_columns(first):
            if value is not _INVALID and getattr(patient, name) != value:
                errors.add(first.line, name, f"{study_id} exists in the database with "
                                             f"{name} {_shown(getattr(patient, name))}, "
                                             f"the file has {_shown(value)}")
        if patient.pk in withdrawn:
            errors.add(first.line, "study_id", f"{study_id} has withdrawn consent; no data "
                                               "can be added")
        for line, timepoint, _ in summaries.timepoints(number):
            if timepoint in stored.get(patient.pk, {}):
                errors.add(line, "timepoint", f"{study_id} already has a {timepoint} in the "
                                              "database")


def _check_dates(summaries: PatientSummaries, existing: dict[str, KnownPatient],
                 stored: dict[int, dict[str, dt.date]], errors: ErrorList) -> None:
    """Each row's date against the rules of data entry (questionnaires.dates)."""
    today = timezone.localdate()
    for study_id, number in summaries.index.items():
        patient = existing.get(study_id)
        in_database = stored.get(patient.pk, {}) if patient is not None else {}
        rows = summaries.timepoints(number)
        in_file = {timepoint: (line, on) for line, timepoint, on in rows}  # the last wins
        for line, timepoint, administered_on in rows:
            if timepoint in in_database:
                continue  # reported already
            other = _other_date(timepoint, in_file, in_database)
            if administered_on is _INVALID or other is _INVALID:
                continue
            for problem in dates.date_problems(
                    timepoint=timepoint, administered_on=administered_on,
                    consented_on=patient.consented_on if patient else None,
                    other_on=other[0] if other else None, today=today):
                errors.add(line, dates.FIELDS[problem],
                           _date_message(problem, timepoint, administered_on, study_id,
                                         patient, other))


def _other_date(timepoint: str, in_file: dict[str, tuple[int, object]],
                in_database: dict[str, dt.date]) -> object:
    """(date, where) of the patient's other timepoint; None if there is none, _INVALID if
    its date is unreadable. A baseline and a follow-up both in the file are compared once,
    on the follow-up's line; a baseline in the file is compared with a stored follow-up."""
    other_timepoint = (Timepoint.FOLLOWUP if timepoint == Timepoint.BASELINE
                       else Timepoint.BASELINE)
    if other_timepoint in in_database:
        return in_database[other_timepoint], "in the database"
    other = in_file.get(other_timepoint)
    if other is None or timepoint == Timepoint.BASELINE:
        return None
    line, administered_on = other
    if administered_on is _INVALID:
        return _INVALID
    return administered_on, f"(line {line})"


def _date_message(problem: str, timepoint: str, administered_on: dt.date, study_id: str,
                  patient: KnownPatient | None, other: tuple[dt.date, str] | None) -> str:
    if problem == dates.BEFORE_CONSENT:
        return f"{administered_on} is before the consent date {patient.consented_on}"
    if problem == dates.IN_FUTURE:
        return f"{administered_on} is in the future"
    if problem == dates.NO_BASELINE:
        return f"{study_id} has a follow-up but no baseline (in the file or the database)"
    other_on, where = other
    if timepoint == Timepoint.BASELINE:
        return f"baseline {administered_on} is not before the follow-up {other_on} {where}"
    return f"follow-up {administered_on} is not after the baseline {other_on} {where}"


def _check_new_study_ids(summaries: PatientSummaries, existing: dict[str, KnownPatient],
                         errors: ErrorList) -> None:
    """A new patient's study ID starts with its clinic's code, as at enrolment (an ID in
    the database keeps the clinic it has: checked against the database instead)."""
    for study_id, number in summaries.index.items():
        if study_id in existing:
            continue  # checked against the database instead
        clinic = summaries.clinic(number)
        if clinic is _INVALID or not _valid_study_id(study_id):
            continue  # its other faults are reported already
        try:
            validate_study_id_clinic(study_id, clinic.code)
        except ValidationError as error:
            errors.add(summaries.first(number).line, "study_id",
                       f"'{study_id}': {error.messages[0]}")


def clinics_by_code() -> dict[str, Clinic]:
    return {clinic.code: clinic for clinic in Clinic.objects.all()}


def validate_cohort(stream: TextIO, clinics: dict[str, Clinic] | None = None
                    ) -> tuple[PatientSummaries, dict[str, KnownPatient]]:
    """Read and check the whole file, keeping a summary per patient (not the rows); raise
    CohortImportError listing every error."""
    errors = ErrorList()
    clinics = clinics_by_code() if clinics is None else clinics
    summaries = summarise(stream, clinics, errors)
    existing = _existing_patients(list(summaries.index))
    stored = _existing_administrations(existing.values())
    _check_new_study_ids(summaries, existing, errors)
    _check_against_database(summaries, existing, stored, errors)
    _check_dates(summaries, existing, stored, errors)
    if errors:
        raise CohortImportError(errors)
    return summaries, existing
