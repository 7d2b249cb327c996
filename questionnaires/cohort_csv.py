"""Kept for code that still imports the columns from here (tests/browser, the tests'
cohort_files helper): the cohort CSV lives in questionnaires.cohort_files."""
from .cohort_files.columns import EXPORT_COLUMNS, IMPORT_COLUMNS

__all__ = ["EXPORT_COLUMNS", "IMPORT_COLUMNS"]
