"""When each reminder is due, from the follow-up window (patients.worklist.followup_dates).

| reminder     | due on                               |
|--------------|--------------------------------------|
| window_open  | the day the window opens (day 76)    |
| week_later   | a week later (day 83)                |
| before_close | a week before it closes (day 113)    |

A reminder is sent from its day until the next one's day; a run that finds two due (the
address was recorded late, or the task was down) sends only the latest, so a patient never
gets two emails at once. Nothing is sent outside the window.
"""
from __future__ import annotations

import datetime as dt

from patients.worklist import FollowUpDates, followup_dates

from .models import ReminderKind

WEEK = dt.timedelta(days=7)
BEFORE_CLOSE = dt.timedelta(days=7)


def reminder_days(dates: FollowUpDates) -> dict[str, dt.date]:
    """Each reminder's day, in the order they are sent."""
    return {
        ReminderKind.WINDOW_OPEN: dates.window_start,
        ReminderKind.WEEK_LATER: dates.window_start + WEEK,
        ReminderKind.BEFORE_CLOSE: dates.window_end - BEFORE_CLOSE,
    }


def reminder_due(*, baseline_on: dt.date, today: dt.date) -> str | None:
    """The reminder to send today for a baseline dated baseline_on, or None."""
    dates = followup_dates(baseline_on)
    if not dates.window_start <= today <= dates.window_end:
        return None
    due = [kind for kind, day in reminder_days(dates).items() if day <= today]
    return due[-1] if due else None
