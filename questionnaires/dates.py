"""When an administration may be dated: one rule for data entry and the cohort import.

Pure (no database): the caller passes the dates it knows. Each broken rule is reported by
its code; data entry shows the first one, the import words each with its line and column.
"""
from __future__ import annotations

import datetime as dt

from .models import Timepoint

BEFORE_CONSENT = "before_consent"
IN_FUTURE = "in_future"
NO_BASELINE = "no_baseline"
FOLLOWUP_NOT_AFTER_BASELINE = "followup_not_after_baseline"

# The field each rule concerns, as a form or the import's column names it.
FIELDS = {BEFORE_CONSENT: "administered_on", IN_FUTURE: "administered_on",
          NO_BASELINE: "timepoint", FOLLOWUP_NOT_AFTER_BASELINE: "administered_on"}


def date_problems(*, timepoint: str, administered_on: dt.date, consented_on: dt.date | None,
                  other_on: dt.date | None, today: dt.date) -> list[str]:
    """The rules that dating this administration breaks, in the order they are checked.

    consented_on: the patient's consent date (None when the consent is dated from this very
        administration, as the import does for a new patient).
    other_on: the date of the patient's administration at the other timepoint, if any.
    """
    problems = []
    if consented_on is not None and administered_on < consented_on:
        problems.append(BEFORE_CONSENT)
    if administered_on > today:
        problems.append(IN_FUTURE)
    if other_on is None:
        if timepoint == Timepoint.FOLLOWUP:
            problems.append(NO_BASELINE)
        return problems
    baseline_on, followup_on = ((administered_on, other_on) if timepoint == Timepoint.BASELINE
                                else (other_on, administered_on))
    if followup_on <= baseline_on:
        problems.append(FOLLOWUP_NOT_AFTER_BASELINE)
    return problems
