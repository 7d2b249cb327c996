"""Hand-built cohort CSV files for the import and export tests."""
from __future__ import annotations

import csv
from pathlib import Path

from questionnaires.cohort_files.columns import IMPORT_COLUMNS
from questionnaires.instruments import BPI, PIH, PPIC

PATIENT_DEFAULTS = {"clinic": "A", "age": "48", "gender": "female",
                    "ethnicity": "white_british", "education": "below_a_level",
                    "pain_years": "6", "pain_sites": "2"}


def cohort_row(study_id: str = "A-001", timepoint: str = "baseline",
               administered_on: str = "2025-01-10", *, bpi: int = 5, ppic: int = 4,
               pih: int = 6, **overrides: str) -> dict[str, str]:
    """One CSV row as strings; every item answered with one value per instrument."""
    row = {"study_id": study_id, "timepoint": timepoint, "administered_on": administered_on,
           **PATIENT_DEFAULTS}
    row.update({code: str(bpi) for code in BPI.item_codes})
    row.update({code: str(ppic) for code in PPIC.item_codes})
    row.update({code: str(pih) for code in PIH.item_codes})
    row.update(overrides)
    return row


def write_cohort(path: Path, rows: list[dict[str, str]],
                 columns: tuple[str, ...] | list[str] = IMPORT_COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(column, "") for column in columns])
    return path
