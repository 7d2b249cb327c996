"""The cohort CSV contract (DESIGN.md): its columns, in order, built from the instruments.

One row per administration. Import reads PATIENT_COLUMNS + ADMINISTRATION_COLUMNS + the
item columns; export writes those and then the score columns.
"""
from .instruments import ITEM_CODES, SCORE_CODES

PATIENT_COLUMNS: tuple[str, ...] = (
    "study_id", "clinic", "age", "gender", "ethnicity", "education", "pain_years", "pain_sites")
IMPORT_COLUMNS: tuple[str, ...] = (
    "study_id", "clinic", "timepoint", "administered_on",
    "age", "gender", "ethnicity", "education", "pain_years", "pain_sites",
    *ITEM_CODES,
)
EXPORT_COLUMNS: tuple[str, ...] = (*IMPORT_COLUMNS, *SCORE_CODES)
