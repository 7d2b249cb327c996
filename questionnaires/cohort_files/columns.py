"""The cohort CSV's columns, in order, built from the instruments and the characteristics.

Import reads IMPORT_COLUMNS (patient, administration, characteristics, items); export
writes those and then the score columns.
"""
from __future__ import annotations

from patients.characteristics import CHARACTERISTIC_CODES, CHARACTERISTICS

from ..instruments import ITEM_CODES, SCORE_CODES

IMPORT_COLUMNS: tuple[str, ...] = (
    "study_id", "clinic", "timepoint", "administered_on", *CHARACTERISTIC_CODES, *ITEM_CODES)
EXPORT_COLUMNS: tuple[str, ...] = (*IMPORT_COLUMNS, *SCORE_CODES)

# Cells that hold text (everything else is a number, a date or empty): the only ones a
# spreadsheet could take for a formula.
TEXT_COLUMNS: tuple[str, ...] = (
    "study_id", "clinic", "timepoint", *(c.code for c in CHARACTERISTICS if not c.is_number))

# Database lookups (from an Administration) behind EXPORT_COLUMNS, in the same order.
_PATIENT_LOOKUPS = {"study_id": "patient__study_id", "clinic": "patient__clinic__code",
                    **{code: f"patient__{code}" for code in CHARACTERISTIC_CODES}}
EXPORT_LOOKUPS: tuple[str, ...] = tuple(_PATIENT_LOOKUPS.get(column, column)
                                       for column in EXPORT_COLUMNS)
