"""Recruitment counts are reused while nothing changes, and never outlive a committed change."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analysis.pages.dashboard import dashboard_context

pytestmark = pytest.mark.django_db


def _recruited(context) -> int:
    return context["recruitment"]["overall"]["recruited"]


def _counts_patients(queries) -> bool:
    return any("patients_patient" in q["sql"] and "GROUP BY" in q["sql"] for q in queries)


def test_counts_are_reused_while_the_data_is_unchanged(make_patient):
    make_patient()
    with CaptureQueriesContext(connection) as first:
        dashboard_context()
    with CaptureQueriesContext(connection) as again:
        dashboard_context()
    assert _counts_patients(first.captured_queries)
    assert not _counts_patients(again.captured_queries)


def test_a_committed_enrolment_is_counted_at_once(make_patient, django_capture_on_commit_callbacks):
    make_patient()
    assert _recruited(dashboard_context()) == 1
    with django_capture_on_commit_callbacks(execute=True):
        make_patient()
    assert _recruited(dashboard_context()) == 2


def test_a_change_not_yet_committed_leaves_the_counts_alone(make_patient,
                                                           django_capture_on_commit_callbacks):
    make_patient()
    assert _recruited(dashboard_context()) == 1
    with django_capture_on_commit_callbacks(execute=False):
        make_patient()  # its commit (and so the new generation) never comes in this test
    assert _recruited(dashboard_context()) == 1
