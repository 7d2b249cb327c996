"""The cohort CSV's columns, in order, built from the instruments and the characteristics.

Import reads IMPORT_COLUMNS (patient, administration, characteristics, items) and, when a
file has them, OPTIONAL_IMPORT_COLUMNS; export writes those, the score columns, then the
PIH form version and the missing-data reasons. The last two came later: they are at the
end, so a reader of the older layout finds every column where it was.
"""
from __future__ import annotations

from patients.characteristics import CHARACTERISTIC_CODES, CHARACTERISTICS

from ..instruments import ITEM_CODES, SCORE_CODES
from .missing import REASONS_COLUMN

IMPORT_COLUMNS: tuple[str, ...] = (
    "study_id", "clinic", "timepoint", "administered_on", *CHARACTERISTIC_CODES, *ITEM_CODES)
PIH_FORM_VERSION = "pih_form_version"
OPTIONAL_IMPORT_COLUMNS: tuple[str, ...] = (PIH_FORM_VERSION, REASONS_COLUMN)
EXPORT_COLUMNS: tuple[str, ...] = (*IMPORT_COLUMNS, *SCORE_CODES, *OPTIONAL_IMPORT_COLUMNS)

# Cells that hold text (everything else is a number, a date or empty): the only ones a
# spreadsheet could take for a formula. (pih_form_version and missing_reasons hold codes
# that start with a letter.)
TEXT_COLUMNS: tuple[str, ...] = (
    "study_id", "clinic", "timepoint", *(c.code for c in CHARACTERISTICS if not c.is_number))

# Database lookups (from an Administration) behind EXPORT_COLUMNS up to pih_form_version,
# then the status and the stored item reasons (together they decide an empty item's
# reason; read in the same query, never a query per row); missing_reasons is derived.
_PATIENT_LOOKUPS = {"study_id": "patient__study_id", "clinic": "patient__clinic__code",
                    **{code: f"patient__{code}" for code in CHARACTERISTIC_CODES}}
EXPORT_LOOKUPS: tuple[str, ...] = (
    *(_PATIENT_LOOKUPS.get(column, column) for column in EXPORT_COLUMNS[:-1]), "status",
    "missing_reasons")
