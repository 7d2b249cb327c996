"""The reminder schedule's days for a baseline on a fixed day, written out by hand."""
from __future__ import annotations

import datetime as dt

BASELINE_ON = dt.date(2026, 1, 5)
# From patients.worklist.followup_dates with the default 76/120 days: written out here so
# that a wrong day in the code cannot pass by being computed the same way in the test.
WINDOW_OPENS = dt.date(2026, 3, 22)  # day 76
WEEK_LATER = dt.date(2026, 3, 29)  # day 83
BEFORE_CLOSE = dt.date(2026, 4, 28)  # day 113, a week before day 120
WINDOW_CLOSES = dt.date(2026, 5, 5)  # day 120
ADDRESS = "jo.bloggs@example.org"


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
