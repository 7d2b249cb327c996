"""Data-quality lists: missing scores, follow-ups outside the window, stale drafts, overdue."""
import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from analysis.pages import quality
from patients.services import patient_mark_lost
from questionnaires.models import Administration
from tests.factories import full_answers


def _ago(days: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=days)


def test_missing_score_is_listed_with_the_reason(make_patient, make_administration):
    patient = make_patient(study_id="A-900")
    answers = full_answers()
    answers["bpi_worst"] = None                  # severity needs all 4 items
    make_administration(patient, "baseline", answers=answers)
    complete = make_patient(study_id="A-901")
    make_administration(complete, "baseline")
    result = quality.missing_scores()
    assert result.count == 1
    study_id, _, _, _, why = result.rows[0]
    assert study_id == "A-900"
    assert "BPI pain severity: 1 of 4 items missing" in why


@pytest.mark.parametrize("day, listed", [(75, True), (76, False), (120, False), (121, True)])
def test_followup_outside_its_window_is_listed(make_patient, make_administration, day, listed):
    patient = make_patient(consented_on=_ago(200))
    make_administration(patient, "baseline", administered_on=_ago(200))
    make_administration(patient, "followup", administered_on=_ago(200 - day))
    result = quality.followups_outside_window()
    assert result.count == int(listed)
    if listed:
        assert result.rows[0][4] == day


def test_drafts_older_than_seven_days_are_listed(make_patient, make_administration):
    old = make_patient(study_id="A-800")
    make_administration(old, "baseline", complete=False)
    recent = make_patient(study_id="A-801")
    make_administration(recent, "baseline", complete=False)
    Administration.objects.filter(patient=old).update(
        updated_at=timezone.now() - dt.timedelta(days=7, hours=1))
    Administration.objects.filter(patient=recent).update(
        updated_at=timezone.now() - dt.timedelta(days=6, hours=23))
    result = quality.stale_drafts()
    assert [row[0] for row in result.rows] == ["A-800"]


def test_overdue_lists_patients_past_the_due_day_without_followup(
        make_patient, make_administration, nurse_a):
    cases = {"A-701": 100, "A-702": 80, "A-703": 130, "A-704": 100, "A-705": 100}
    patients = {}
    for study_id, days in cases.items():
        patients[study_id] = make_patient(study_id=study_id, consented_on=_ago(days))
        make_administration(patients[study_id], "baseline", administered_on=_ago(days))
    patient_mark_lost(patient=patients["A-704"], lost_reason="discharged", by=nurse_a)
    make_administration(patients["A-705"], "followup", administered_on=_ago(5))
    result = quality.overdue_followups()
    listed = {row[0]: row[5] for row in result.rows}
    # Day 100: overdue; day 130: window missed; day 80: due, not overdue; lost and
    # completed patients are not chased.
    assert listed == {"A-703": "Window missed", "A-701": "Overdue"}


@pytest.mark.parametrize("user_fixture, status", [
    ("nurse_a", 403), ("nurse_b", 403), ("researcher", 200), ("data_manager", 200)])
def test_quality_page_access(client, request, user_fixture, status):
    client.force_login(request.getfixturevalue(user_fixture))
    assert client.get(reverse("analysis:quality")).status_code == status


def _quality_page(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("analysis:quality"))
    return response, len(queries)


def test_quality_page_queries_do_not_grow_and_follow_data_changes(
        client, researcher, make_patient, make_administration):
    client.force_login(researcher)
    for number in range(3):                       # overdue: baseline 100 days ago
        patient = make_patient(study_id=f"A-{number:03d}", consented_on=_ago(100))
        make_administration(patient, "baseline", administered_on=_ago(100))
    response, first = _quality_page(client)
    _, again = _quality_page(client)
    counts = {lst.key: lst.count for lst in response.context["lists"]}
    assert counts["overdue"] == 3
    for number in range(3, 30):
        patient = make_patient(study_id=f"A-{number:03d}", consented_on=_ago(100))
        make_administration(patient, "baseline", administered_on=_ago(100))
    response, larger_first = _quality_page(client)
    _, larger_again = _quality_page(client)
    assert {lst.key: lst.count for lst in response.context["lists"]}["overdue"] == 30
    assert first == larger_first and again == larger_again < first
