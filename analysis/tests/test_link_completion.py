"""A link sent with skipped items counts as a link completion on the dashboard (moved from
selfcompletion/tests/test_skipped_items.py: the count is analysis's)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from analysis.pages.outreach import completion_by_mode
from questionnaires.cohort_files.columns import EXPORT_COLUMNS
from questionnaires.cohort_files.writer import cohort_rows
from selfcompletion.tests.test_skipped_items import _send, _worked_example

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(make_patient, make_administration, nurse_a):
    """(invitation, raw token): a follow-up link of a patient inside the window today, as
    selfcompletion/tests/conftest.py makes it."""
    from selfcompletion.services import followup_link_ensure

    patient = make_patient(consented_on=timezone.localdate() - dt.timedelta(days=100))
    make_administration(patient)
    invitation, path = followup_link_ensure(patient=patient, by=nurse_a)
    return invitation, path.strip("/").split("/")[-1]


def test_a_sent_link_with_skipped_items_is_exported_and_counted_as_a_link_completion(link):
    invitation, _ = link
    _send(invitation, _worked_example())
    rows = [dict(zip(EXPORT_COLUMNS, row, strict=True)) for row in cohort_rows()]
    followups = [row for row in rows if row["timepoint"] == "followup"]
    assert len(followups) == 1 and followups[0]["bpi_walking"] in ("", None)
    assert followups[0]["bpi_severity"] == pytest.approx(5.25)
    by_mode = completion_by_mode(due_before=timezone.localdate() + dt.timedelta(days=1))
    link_row = next(row for row in by_mode["rows"] if row["key"] == "link")
    assert link_row["completed"] == 1 and by_mode["completed"] == 1
