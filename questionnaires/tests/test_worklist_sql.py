"""The worklist's SQL status (patients.worklist.worklist_status_sql, annotated by
questionnaires.worklist) equals the readable specification, worklist_status, for every
patient: every state, every boundary day, drafts, withdrawn and lost. Runs on SQLite, and on
PostgreSQL where DATABASE_URL names one: both must agree with the specification."""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from clinics.models import Clinic
from patients.models import Patient, Withdrawal
from patients.worklist import STATUS, worklist_status
from questionnaires.models import Administration
from questionnaires.worklist import clinic_worklist, worklist_queryset
from tests.factories import full_answers

TODAY = dt.date(2026, 6, 15)
# Days from baseline to today at each edge of each rule (window 76-120, due 90, due soon
# from day 62), either side, and far on both sides.
BOUNDARY_DAYS = (0, 30, 61, 62, 75, 76, 90, 91, 120, 121, 400)


@pytest.fixture(autouse=True)
def study_window(settings):
    settings.FOLLOWUP_WINDOW_START_DAYS = 76
    settings.FOLLOWUP_DUE_DAYS = 90
    settings.FOLLOWUP_WINDOW_END_DAYS = 120


def _cases() -> list[dict]:
    """One patient per combination worth telling apart: (days since baseline or None,
    baseline state, follow-up state, follow-up status, withdrawn)."""
    cases = []
    for days in BOUNDARY_DAYS:
        cases.append({"days": days, "baseline": "complete"})
        cases.append({"days": days, "baseline": "draft"})              # still to enter
        cases.append({"days": days, "baseline": "complete", "followup": "draft"})
        cases.append({"days": days, "baseline": "complete", "followup": "complete"})
    cases += [
        {"days": None},                                                 # no baseline at all
        {"days": None, "status": "lost"},
        {"days": 100, "baseline": "complete", "status": "lost"},
        {"days": 100, "baseline": "draft", "status": "lost"},
        {"days": 100, "baseline": "complete", "followup": "complete", "status": "lost"},
        {"days": 100, "baseline": "complete", "status": "completed"},   # no follow-up row
        {"days": 100, "baseline": "complete", "followup": "complete", "withdrawn": True},
        {"days": 100, "baseline": "complete", "withdrawn": True},
        {"days": None, "withdrawn": True},
        {"days": 100, "baseline": "complete", "status": "lost", "withdrawn": True},
    ]
    return cases


def _store(clinic: Clinic, cases: list[dict], *, today: dt.date) -> None:
    """The cases as rows, built directly (the services are tested with their apps)."""
    patients = Patient.objects.bulk_create([
        Patient(clinic=clinic, study_id=f"{clinic.code}-{i:04d}", consent_form_version="v1",
                consented_on=dt.date(2020, 1, 1), consent_taken_by="Nurse",
                followup_status=case.get("status", "active"),
                lost_reason="did_not_attend" if case.get("status") == "lost" else "")
        for i, case in enumerate(cases, start=1)])
    admins, withdrawals = [], []
    for patient, case in zip(patients, cases, strict=True):
        if case["days"] is not None:
            baseline_on = today - dt.timedelta(days=case["days"])
            admins.append(Administration(patient=patient, timepoint="baseline",
                                         status=case["baseline"], administered_on=baseline_on,
                                         **full_answers()))
            if case.get("followup"):
                admins.append(Administration(patient=patient, timepoint="followup",
                                             status=case["followup"], administered_on=today,
                                             **full_answers()))
        if case.get("withdrawn"):
            withdrawals.append(Withdrawal(patient=patient, withdrawn_on=today,
                                          keep_collected_data=True))
    Administration.objects.bulk_create(admins)
    Withdrawal.objects.bulk_create(withdrawals)


def _specified(clinic: Clinic, today: dt.date) -> dict[str, str]:
    """Study ID -> worklist_status, from the rows read plainly (no annotation)."""
    admins = {(a.patient_id, a.timepoint): a
              for a in Administration.objects.filter(patient__clinic=clinic)}
    withdrawn = set(Withdrawal.objects.values_list("patient_id", flat=True))
    result = {}
    for patient in Patient.objects.filter(clinic=clinic):
        baseline, followup = admins.get((patient.pk, "baseline")), admins.get((patient.pk,
                                                                              "followup"))
        result[patient.study_id] = worklist_status(
            today=today, withdrawn=patient.pk in withdrawn,
            followup_status=patient.followup_status,
            baseline_on=baseline.administered_on if baseline else None,
            baseline_complete=bool(baseline and baseline.status == "complete"),
            followup_complete=bool(followup and followup.status == "complete"))
    return result


def _computed(clinic: Clinic, today: dt.date) -> dict[str, str]:
    return dict(worklist_queryset(clinic=clinic, today=today).values_list("study_id", STATUS))


@pytest.mark.django_db
def test_sql_status_equals_the_specification_for_every_state_and_boundary(clinic_a):
    _store(clinic_a, _cases(), today=TODAY)
    expected = _specified(clinic_a, TODAY)
    assert _computed(clinic_a, TODAY) == expected
    # every status is exercised, so none of the CASE's branches goes untested
    assert set(expected.values()) == {"withdrawn", "completed", "lost", "baseline",
                                      "not_yet_due", "due_soon", "due", "overdue",
                                      "window_missed"}


@pytest.mark.django_db
def test_sql_boundaries_read_as_days(clinic_a):
    """The table's days, stated independently of worklist_status."""
    _store(clinic_a, [{"days": days, "baseline": "complete"} for days in BOUNDARY_DAYS],
           today=TODAY)
    by_days = dict(zip(BOUNDARY_DAYS, (s for _, s in sorted(_computed(clinic_a, TODAY).items())),
                       strict=True))
    assert by_days == {0: "not_yet_due", 30: "not_yet_due", 61: "not_yet_due",
                       62: "due_soon", 75: "due_soon", 76: "due", 90: "due", 91: "overdue",
                       120: "overdue", 121: "window_missed", 400: "window_missed"}


@pytest.mark.django_db
def test_sql_status_follows_the_window_settings(clinic_a, settings):
    settings.FOLLOWUP_WINDOW_START_DAYS, settings.FOLLOWUP_DUE_DAYS = 60, 70
    settings.FOLLOWUP_WINDOW_END_DAYS = 80
    _store(clinic_a, [{"days": days, "baseline": "complete"}
                      for days in (45, 46, 59, 60, 70, 71, 80, 81)], today=TODAY)
    computed = _computed(clinic_a, TODAY)
    assert computed == _specified(clinic_a, TODAY)
    assert [computed[s] for s in sorted(computed)] == [
        "not_yet_due", "due_soon", "due_soon", "due", "due", "overdue", "overdue",
        "window_missed"]


@pytest.mark.django_db
def test_counts_and_filters_agree_with_the_specification(clinic_a, clinic_b):
    _store(clinic_a, _cases(), today=TODAY)
    _store(clinic_b, _cases()[:10], today=TODAY)   # another clinic's patients: never counted
    expected = _specified(clinic_a, TODAY)
    worklist = clinic_worklist(clinic=clinic_a, today=TODAY)
    assert worklist.counts == {code: Counter(expected.values())[code]
                               for code in worklist.counts}
    assert worklist.total == len(expected)
    for code in set(expected.values()):
        shown = clinic_worklist(clinic=clinic_a, today=TODAY, status=code).rows
        assert sorted(row.study_id for row in shown) == sorted(
            s for s, c in expected.items() if c == code)
        assert all(row.status.code == code for row in shown)


# --- a property over random cohorts and days --------------------------------------------

CASE = st.fixed_dictionaries(
    {"days": st.one_of(st.none(), st.integers(min_value=-30, max_value=200))},
    optional={"baseline": st.sampled_from(["complete", "draft"]),
              "followup": st.sampled_from(["complete", "draft"]),
              "status": st.sampled_from(["active", "completed", "lost"]),
              "withdrawn": st.booleans()},
).map(lambda case: {**case, "baseline": case.get("baseline", "complete")})


@pytest.mark.django_db
@hypothesis_settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=st.lists(CASE, min_size=1, max_size=12),
       shift=st.integers(min_value=-130, max_value=130))
def test_sql_status_equals_the_specification_for_random_patients(clinic_a, cases, shift):
    """The patients are stored around TODAY and judged `shift` days later or earlier."""
    with transaction.atomic():
        _store(clinic_a, cases, today=TODAY)
        today = TODAY + dt.timedelta(days=shift)
        assert _computed(clinic_a, today) == _specified(clinic_a, today)
        transaction.set_rollback(True)   # the next example starts from an empty clinic
