"""The reminders' days, from the follow-up window (pure: no database)."""
import datetime as dt

import pytest

from reminders.models import ReminderKind
from reminders.schedule import reminder_due

from .dates import BASELINE_ON, BEFORE_CLOSE, WEEK_LATER, WINDOW_CLOSES, WINDOW_OPENS

DAY = dt.timedelta(days=1)


@pytest.mark.parametrize("today, expected", [
    (BASELINE_ON, None),
    (WINDOW_OPENS - DAY, None),
    (WINDOW_OPENS, ReminderKind.WINDOW_OPEN),
    (WEEK_LATER - DAY, ReminderKind.WINDOW_OPEN),
    (WEEK_LATER, ReminderKind.WEEK_LATER),
    (BEFORE_CLOSE - DAY, ReminderKind.WEEK_LATER),
    (BEFORE_CLOSE, ReminderKind.BEFORE_CLOSE),
    (WINDOW_CLOSES, ReminderKind.BEFORE_CLOSE),
    (WINDOW_CLOSES + DAY, None),
])
def test_the_reminder_due_is_the_latest_whose_day_has_come_inside_the_window(today, expected):
    assert reminder_due(baseline_on=BASELINE_ON, today=today) == expected
