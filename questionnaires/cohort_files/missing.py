"""Why a cell is missing: the reasons the cohort files write, one table for every format.

Data entry records a missing value by its field: an item left empty on a completed form
is "Not answered" (the form's explicit choice) unless the administration stored that the
patient declined it ("Prefer not to answer" on the tablet or link:
Administration.missing_reasons), a characteristic left empty at enrolment
is "Not recorded", a score is empty when too few of its items were answered (the
instruments' missing-item rules), and an item of a draft is not yet entered. The files
say so: the cohort CSV and the wide CSV in their last column, `missing_reasons`
("bpi_worst:not_answered;gender:not_recorded", in column order, empty when nothing is
missing), the .dta as Stata's extended missing values (.a, .b, ...) with value labels.
"""
from __future__ import annotations

from dataclasses import dataclass

from patients.characteristics import CHARACTERISTIC_CODES

from ..instruments import ITEM_CODES, SCORE_CODES


@dataclass(frozen=True)
class Reason:
    code: str     # in the CSV's missing_reasons cell
    letter: str   # Stata's extended missing value .a, .b, ...
    label: str


NOT_ANSWERED = Reason("not_answered", "a", "Not answered")
NOT_RECORDED = Reason("not_recorded", "b", "Not recorded")
TOO_FEW_ITEMS = Reason("too_few_items", "c", "Not scored: too few items answered")
NOT_ENTERED = Reason("not_entered", "d", "Not yet entered (draft administration)")
NO_ADMINISTRATION = Reason("no_administration", "e",
                           "No complete administration at this timepoint")
# Came later: appended, so that .a-.e keep their meaning in files already written.
DECLINED = Reason("declined", "f", "Prefer not to answer")
REASONS: tuple[Reason, ...] = (NOT_ANSWERED, NOT_RECORDED, TOO_FEW_ITEMS, NOT_ENTERED,
                               NO_ADMINISTRATION, DECLINED)
REASONS_BY_CODE = {reason.code: reason for reason in REASONS}

REASONS_COLUMN = "missing_reasons"
SEPARATOR, ASSIGN = ";", ":"


# The stored reasons (questionnaires.models.MissingReason) by their value: the same codes.
STORED_REASONS = {NOT_ANSWERED.code: NOT_ANSWERED, DECLINED.code: DECLINED}


def column_reason(column: str, *, complete: bool = True) -> Reason | None:
    """The reason an empty cell of a cohort CSV column has when nothing more is stored
    (None: never missing); an item's stored reason (STORED_REASONS) takes precedence."""
    if column in ITEM_CODES:
        return NOT_ANSWERED if complete else NOT_ENTERED
    if column in CHARACTERISTIC_CODES:
        return NOT_RECORDED
    if column in SCORE_CODES:
        return TOO_FEW_ITEMS
    return None


# The cohort CSV's columns that can be missing, in file order.
REASON_COLUMNS: tuple[str, ...] = (*CHARACTERISTIC_CODES, *ITEM_CODES, *SCORE_CODES)


def reasons_cell(pairs: list[tuple[str, Reason]]) -> str | None:
    """The missing_reasons cell for (column, reason) pairs in column order; None if none."""
    if not pairs:
        return None
    return SEPARATOR.join(f"{column}{ASSIGN}{reason.code}" for column, reason in pairs)


def parse_reasons(cell: str) -> dict[str, Reason]:
    """{column: reason} of a missing_reasons cell; ValueError naming the bad part."""
    found: dict[str, Reason] = {}
    for part in filter(None, (p.strip() for p in cell.split(SEPARATOR))):
        column, assign, code = part.partition(ASSIGN)
        if not assign or code not in REASONS_BY_CODE:
            raise ValueError(f"'{part}' is not column{ASSIGN}reason with a reason of "
                             f"{', '.join(REASONS_BY_CODE)}")
        if column in found:
            raise ValueError(f"{column} is given twice")
        found[column] = REASONS_BY_CODE[code]
    return found


def stata_value_labels() -> dict[float, str]:
    """Value labels of the extended missing values, keyed by their letter's position."""
    return {reason.letter: reason.label for reason in REASONS}
