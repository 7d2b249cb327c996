"""The codebook: every column of the cohort CSV and of the wide file, described once.

Generated from the instrument definitions (questionnaires.instruments: labels, ranges,
anchors, scoring rules, sources) and the model fields' verbose_name, help_text and
choices, so that a new item or a changed rule shows up here without editing this file.
The CSV, the Stata file, the R/Stata snippets and the export page all read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from patients.characteristics import CHARACTERISTIC_CODES, CHARACTERISTICS_BY_CODE
from patients.models import FollowUpStatus, LostReason, Patient
from questionnaires.cohort_files.columns import (
    EXPORT_COLUMNS,
    PATIENT_STATUS_COLUMNS,
    PIH_FORM_VERSION,
)
from questionnaires.cohort_files.missing import (
    DECLINED,
    NO_ADMINISTRATION,
    NOT_ANSWERED,
    NOT_ENTERED,
    NOT_RECORDED,
    REASONS,
    REASONS_COLUMN,
    TOO_FEW_ITEMS,
    Reason,
)
from questionnaires.cohort_files.precision import SCORE_DECIMALS, precision_text
from questionnaires.instruments import (
    INSTRUMENTS,
    ITEMS_BY_CODE,
    SCALES_BY_CODE,
    SCORE_CODES,
    SCORING_VERSION,
)
from questionnaires.models import Administration, PihFormVersion

MISSING = "empty cell"


def missing_text(*reasons: Reason) -> str:
    """The codebook's missing entry: an empty cell, its reason(s) in missing_reasons and
    the Stata extended missing value(s)."""
    said = "; ".join(f"{r.code} (.{r.letter} in the .dta) = {r.label}" for r in reasons)
    return f"empty cell; {REASONS_COLUMN} says why: {said}"
CLINICAL_RECORD = "Clinical record, entered at enrolment (patients.Patient)"

STRING, CATEGORY, INTEGER, FLOAT, DATE = "string", "category", "integer", "float", "date"


@dataclass(frozen=True)
class Column:
    """One column of an export file."""

    name: str
    label: str
    type: str                     # string, category, integer, float or date
    allowed: str
    rule: str
    source: str
    categories: tuple[tuple[str, str], ...] = field(default=())   # (code, label)
    missing: str = MISSING
    decimals: int | None = None   # a float written at this many decimals

    @property
    def is_numeric(self) -> bool:
        return self.type in (INTEGER, FLOAT)


def _choices_text(categories: tuple[tuple[str, str], ...]) -> str:
    return "; ".join(f"{code} = {label}" for code, label in categories)


def _patient_column(name: str) -> Column:
    """A baseline characteristic, as patients.characteristics defines it."""
    characteristic = CHARACTERISTICS_BY_CODE[name]
    help_text = str(Patient._meta.get_field(name).help_text)
    if characteristic.is_number:
        return Column(name, characteristic.label, INTEGER, characteristic.allowed,
                      help_text or "Whole number, at baseline; repeated on both rows.",
                      CLINICAL_RECORD, missing=missing_text(NOT_RECORDED))
    return Column(name, characteristic.label, CATEGORY, characteristic.allowed,
                  help_text or "As recorded; empty = not recorded.", CLINICAL_RECORD,
                  characteristic.choices, missing=missing_text(NOT_RECORDED))


def _item_column(code: str) -> Column:
    item = ITEMS_BY_CODE[code]
    instrument = next(inst for inst in INSTRUMENTS if inst.code == item.instrument)
    anchors = ", ".join(anchor for anchor in item.anchors if anchor)
    rule = "Raw answer as given on the form" + (f" ({anchors})" if anchors else "") + "."
    if instrument.reversible:
        rule += (" Stored as written; an older PIH form (0 = best) is turned round only "
                 "when scoring.")
    return Column(code, item.label, INTEGER, f"{item.minimum}-{item.maximum}", rule,
                  f"{instrument.name}; {instrument.source}",
                  missing=missing_text(NOT_ANSWERED, DECLINED, NOT_ENTERED))


def _score_column(code: str) -> Column:
    scale = SCALES_BY_CODE[code]
    instrument = next(inst for inst in INSTRUMENTS if inst.code == scale.instrument)
    model_field = Administration._meta.get_field(code)
    return Column(code, str(model_field.verbose_name), FLOAT,
                  f"{scale.minimum:g}-{scale.maximum:g}",
                  f"{scale.rule} Items: {', '.join(scale.items)}. {precision_text(code)} "
                  f"Scoring version {SCORING_VERSION}. Empty when too few items were "
                  "answered.",
                  f"Computed by PainCohort from the items; {instrument.name}; "
                  f"{instrument.source}", missing=missing_text(TOO_FEW_ITEMS),
                  decimals=SCORE_DECIMALS[code])


def _reasons_column(file: str) -> Column:
    listed = "; ".join(f"{r.code} = {r.label}" for r in REASONS)
    return Column(
        REASONS_COLUMN, "why cells are missing", STRING,
        f"column:reason pairs separated by ';', e.g. bpi_worst:not_answered;"
        f"gender:not_recorded. Reasons: {listed}",
        f"Every empty cell of the {file} row, in column order, with its reason; empty "
        "when no cell is missing. The .dta holds the same reasons as Stata extended "
        "missing values (" + ", ".join(f".{r.letter} = {r.code}" for r in REASONS)
        + ") with value labels, and has no such column.",
        "Derived from the entry form's records", missing="empty = nothing missing")


def _pih_form_version_column() -> Column:
    model_field = Administration._meta.get_field("pih_form_version")
    versions = tuple((str(code), str(label)) for code, label in PihFormVersion.choices)
    return Column(PIH_FORM_VERSION, str(model_field.verbose_name), CATEGORY,
                  _choices_text(versions),
                  "The PIH form the answers were given on; pih_1..pih_12 are stored as "
                  "written, and a reversed form is scored as 8 - x.",
                  "questionnaires.Administration", versions, missing="never missing")


def _fixed_columns() -> dict[str, Column]:
    study_id = Patient._meta.get_field("study_id")
    timepoint = Administration._meta.get_field("timepoint")
    timepoints = tuple((str(code), str(label)) for code, label in timepoint.choices)
    return {
        "study_id": Column("study_id", str(study_id.verbose_name), STRING,
                           "e.g. A-017", str(study_id.help_text) + " Never a name or NHS "
                           "number.", "Generated at enrolment (patients.Patient)",
                           missing="never missing"),
        "clinic": Column("clinic", "clinic", STRING, "clinic code, e.g. A",
                         "The recruiting clinic (the model's level 3).", "clinics.Clinic.code",
                         missing="never missing"),
        "timepoint": Column("timepoint", str(timepoint.verbose_name), CATEGORY,
                            _choices_text(timepoints), "One row per patient and timepoint.",
                            "questionnaires.Administration", timepoints,
                            missing="never missing"),
        "administered_on": Column(
            "administered_on", str(Administration._meta.get_field("administered_on")
                                   .verbose_name), DATE, "YYYY-MM-DD (ISO 8601)",
            "Date the questionnaires were completed.", "questionnaires.Administration",
            missing="never missing"),
    }


# The patient's follow-up status and why they were lost (issue 19): the cohort files end with
# them (questionnaires.cohort_files.columns.PATIENT_STATUS_COLUMNS, the writers'); their
# codebook entries are these.
FOLLOWUP_COLUMNS = PATIENT_STATUS_COLUMNS


def followup_columns() -> dict[str, Column]:
    """followup_status and lost_reason, from patients.Patient's fields and choices."""
    status_field = Patient._meta.get_field("followup_status")
    reason_field = Patient._meta.get_field("lost_reason")
    statuses = tuple((str(code), str(label)) for code, label in FollowUpStatus.choices)
    reasons = tuple((str(code), str(label)) for code, label in LostReason.choices)
    lost = FollowUpStatus.LOST.value
    return {
        "followup_status": Column(
            "followup_status", str(status_field.verbose_name), CATEGORY,
            _choices_text(statuses),
            f"The patient's follow-up status when the file was written: "
            f"{FollowUpStatus.ACTIVE.value} = still in follow-up (no follow-up recorded yet), "
            f"{FollowUpStatus.COMPLETED.value} = followed up, {lost} = lost to follow-up "
            "(lost_reason says why; a consent withdrawal is lost with reason withdrew). "
            "Repeated on both rows. The analysis's completers are the patients with a "
            "complete baseline and follow-up row; the attrition table compares them with "
            f"the patients without a follow-up whose status is not "
            f"{FollowUpStatus.ACTIVE.value}.",
            "Clinical record, kept by the clinic's follow-up worklist (patients.Patient)",
            statuses, missing="never missing"),
        "lost_reason": Column(
            "lost_reason", str(reason_field.verbose_name), CATEGORY, _choices_text(reasons),
            f"Why the patient was lost to follow-up; given exactly when followup_status = "
            f"{lost} (a database constraint). Repeated on both rows.",
            "Clinical record, recorded with the loss (patients.Patient)", reasons,
            missing=f"empty cell = not lost to follow-up (followup_status is not {lost})"),
    }


def cohort_columns() -> list[Column]:
    """The cohort CSV's columns (EXPORT_COLUMNS), in order."""
    fixed = {**_fixed_columns(), **followup_columns()}
    columns = []
    for name in EXPORT_COLUMNS:
        if name in fixed:
            columns.append(fixed[name])
        elif name in ITEMS_BY_CODE:
            columns.append(_item_column(name))
        elif name in SCALES_BY_CODE:
            columns.append(_score_column(name))
        elif name == PIH_FORM_VERSION:
            columns.append(_pih_form_version_column())
        elif name == REASONS_COLUMN:
            columns.append(_reasons_column("cohort"))
        else:
            columns.append(_patient_column(name))
    return columns


# The wide file: one row per patient, patient columns then each score at baseline (_bl),
# at follow-up (_fu) and the change (_chg = _fu - _bl).
WIDE_PATIENT_COLUMNS = ("study_id", "clinic", *CHARACTERISTIC_CODES)
WIDE_SUFFIXES = (("bl", "baseline"), ("fu", "3-month follow-up"))


def wide_score_name(code: str, suffix: str) -> str:
    return f"{code}_{suffix}"


def wide_columns() -> list[Column]:
    by_name = {column.name: column for column in cohort_columns()}
    columns = [by_name[name] for name in WIDE_PATIENT_COLUMNS]
    for suffix, when in WIDE_SUFFIXES:
        columns.append(Column(
            f"{suffix}_date", f"date of the {when}", DATE, "YYYY-MM-DD (ISO 8601)",
            f"administered_on of the {when} row; empty when there is none.",
            "questionnaires.Administration", missing=missing_text(NO_ADMINISTRATION)))
    columns.append(Column("days_to_followup", "days from baseline to follow-up", INTEGER,
                          "1 or more", "fu_date - bl_date in days.", "Derived",
                          missing=missing_text(NO_ADMINISTRATION)))
    for code in SCORE_CODES:
        score = by_name[code]
        for suffix, when in WIDE_SUFFIXES:
            columns.append(Column(wide_score_name(code, suffix), f"{score.label}, {when}",
                                  FLOAT, score.allowed, score.rule, score.source,
                                  missing=missing_text(TOO_FEW_ITEMS, NO_ADMINISTRATION),
                                  decimals=score.decimals))
        columns.append(Column(
            wide_score_name(code, "chg"), f"{score.label}, change", FLOAT,
            f"{-(SCALES_BY_CODE[code].maximum - SCALES_BY_CODE[code].minimum):g} to "
            f"{SCALES_BY_CODE[code].maximum - SCALES_BY_CODE[code].minimum:g}",
            f"{code}_fu - {code}_bl (follow-up minus baseline, of the values as written: "
            f"exact at {score.decimals} decimals); empty when either is missing, with the "
            "baseline's reason if both are.", "Derived",
            missing=missing_text(TOO_FEW_ITEMS, NO_ADMINISTRATION), decimals=score.decimals))
    columns.append(_reasons_column("wide"))
    columns.extend(by_name[name] for name in PATIENT_STATUS_COLUMNS)  # appended later
    return columns


CODEBOOK_HEADER = ("file", "column", "label", "type", "allowed_values", "missing",
                   "scoring_rule", "source")


def codebook_rows() -> list[tuple[str, ...]]:
    """Rows of the codebook CSV: the cohort file's columns, then the wide file's."""
    rows = []
    for file, columns in (("cohort", cohort_columns()), ("wide", wide_columns())):
        for column in columns:
            rows.append((file, column.name, column.label, column.type, column.allowed,
                         column.missing, column.rule, column.source))
    return rows
