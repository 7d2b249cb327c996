"""The cohort CSV's columns, in order, built from the instruments and the characteristics.

Import reads IMPORT_COLUMNS (patient, administration, characteristics, items) and, when a
file has them, OPTIONAL_IMPORT_COLUMNS; export writes those, the score columns, then the
PIH form version and the missing-data reasons, then the patient's follow-up status and
why they were lost (PATIENT_STATUS_COLUMNS). Later columns are always appended, so a reader
of an older layout finds every column where it was. The import accepts files with or
without the follow-up columns and does not read them (informational: follow-up status is
kept by the follow-up workflow, not by a file).
"""
from __future__ import annotations

from patients.characteristics import CHARACTERISTIC_CODES, CHARACTERISTICS

from ..instruments import ITEM_CODES, SCORE_CODES
from .missing import REASONS_COLUMN

IMPORT_COLUMNS: tuple[str, ...] = (
    "study_id", "clinic", "timepoint", "administered_on", *CHARACTERISTIC_CODES, *ITEM_CODES)
PIH_FORM_VERSION = "pih_form_version"
OPTIONAL_IMPORT_COLUMNS: tuple[str, ...] = (PIH_FORM_VERSION, REASONS_COLUMN)
# Patient-level, repeated on each of the patient's rows (patients.Patient).
FOLLOWUP_STATUS, LOST_REASON = PATIENT_STATUS_COLUMNS = ("followup_status", "lost_reason")
EXPORT_COLUMNS: tuple[str, ...] = (*IMPORT_COLUMNS, *SCORE_CODES, *OPTIONAL_IMPORT_COLUMNS,
                                   *PATIENT_STATUS_COLUMNS)

# Cells that hold text (everything else is a number, a date or empty): the only ones a
# spreadsheet could take for a formula. (pih_form_version and missing_reasons hold codes
# that start with a letter; the follow-up columns too, but the database does not constrain
# followup_status to its choices, so they are treated as text.)
TEXT_COLUMNS: tuple[str, ...] = (
    "study_id", "clinic", "timepoint", *(c.code for c in CHARACTERISTICS if not c.is_number),
    *PATIENT_STATUS_COLUMNS)

# The columns read from the database: every one but missing_reasons, which is derived.
DATABASE_COLUMNS: tuple[str, ...] = tuple(c for c in EXPORT_COLUMNS if c != REASONS_COLUMN)
# Database lookups (from an Administration) behind DATABASE_COLUMNS, then the status and
# the stored item reasons (together they decide an empty item's reason; read in the same
# query, never a query per row).
_PATIENT_LOOKUPS = {"study_id": "patient__study_id", "clinic": "patient__clinic__code",
                    **{code: f"patient__{code}"
                       for code in (*CHARACTERISTIC_CODES, *PATIENT_STATUS_COLUMNS)}}
EXPORT_LOOKUPS: tuple[str, ...] = (
    *(_PATIENT_LOOKUPS.get(column, column) for column in DATABASE_COLUMNS), "status",
    "missing_reasons")
