"""Worklist status rules at their boundaries (the clinic's worklist from the database is
questionnaires/tests/test_worklist.py's, the page's front/tests/test_worklist_page.py's)."""
from __future__ import annotations

import datetime as dt

import pytest

from patients.worklist import worklist_status

BASELINE = dt.date(2026, 1, 1)


@pytest.fixture(autouse=True)
def study_window(settings):
    # The study's defaults, fixed here so the boundaries below read as days.
    settings.FOLLOWUP_WINDOW_START_DAYS = 76
    settings.FOLLOWUP_DUE_DAYS = 90
    settings.FOLLOWUP_WINDOW_END_DAYS = 120


def status_on(day: int, **overrides) -> str:
    """Status `day` days after a completed baseline, nothing else recorded."""
    kwargs = dict(today=BASELINE + dt.timedelta(days=day), withdrawn=False,
                  followup_status="active", baseline_on=BASELINE, baseline_complete=True,
                  followup_complete=False)
    kwargs.update(overrides)
    return worklist_status(**kwargs)


@pytest.mark.parametrize(("day", "expected"), [
    (0, "not_yet_due"), (61, "not_yet_due"),
    (62, "due_soon"), (75, "due_soon"),          # window opens within 14 days
    (76, "due"), (90, "due"),                    # window open, due day not passed
    (91, "overdue"), (120, "overdue"),           # past due day, window still open
    (121, "window_missed"), (400, "window_missed"),
])
def test_followup_status_at_the_window_boundaries(day, expected):
    assert status_on(day) == expected


def test_window_follows_the_settings(settings):
    settings.FOLLOWUP_WINDOW_START_DAYS = 60
    assert status_on(60) == "due"
    assert status_on(59) == "due_soon"


def test_no_baseline_means_baseline_to_enter():
    assert status_on(5, baseline_on=None, baseline_complete=False) == "baseline"


def test_a_baseline_draft_is_still_to_enter():
    assert status_on(100, baseline_complete=False) == "baseline"


def test_completed_followup_is_completed_whatever_the_date():
    assert status_on(300, followup_complete=True) == "completed"


def test_lost_to_followup_wins_over_dates():
    assert status_on(100, followup_status="lost") == "lost"


def test_withdrawal_wins_over_everything():
    assert status_on(100, withdrawn=True, followup_complete=True) == "withdrawn"
