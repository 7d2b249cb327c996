"""The clinic's worklist from the database (questionnaires.worklist): filters, counts, orders."""
from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from clinics.models import Clinic
from patients.models import Patient
from questionnaires.models import Administration
from questionnaires.worklist import clinic_worklist
from tests.factories import full_answers


@pytest.fixture(autouse=True)
def study_window(settings):
    # The study's defaults, fixed here so the boundaries below read as days.
    settings.FOLLOWUP_WINDOW_START_DAYS = 76
    settings.FOLLOWUP_DUE_DAYS = 90
    settings.FOLLOWUP_WINDOW_END_DAYS = 120


# --- the clinic's worklist from the database -------------------------------------------

def _bulk_cohort(clinic: Clinic, n: int, *, today: dt.date) -> None:
    """n patients in three states: no baseline, baseline 80 days ago (due), completed."""
    patients = Patient.objects.bulk_create([
        Patient(clinic=clinic, study_id=f"{clinic.code}-{i:04d}",
                consented_on=today - dt.timedelta(days=200), consent_form_version="v1",
                consent_taken_by="Nurse") for i in range(1, n + 1)])
    admins = []
    for i, patient in enumerate(patients):
        if i % 3 == 0:
            continue
        admins.append(Administration(patient=patient, timepoint="baseline", status="complete",
                                     administered_on=today - dt.timedelta(days=80),
                                     **full_answers()))
        if i % 3 == 2:
            admins.append(Administration(patient=patient, timepoint="followup",
                                         status="complete", administered_on=today,
                                         **full_answers()))
    Administration.objects.bulk_create(admins)


@pytest.mark.django_db
def test_worklist_counts_filter_and_search(clinic_a, clinic_b):
    today = timezone.localdate()
    _bulk_cohort(clinic_a, 9, today=today)
    _bulk_cohort(clinic_b, 3, today=today)
    worklist = clinic_worklist(clinic=clinic_a, today=today)
    assert worklist.total == 9
    assert (worklist.counts["baseline"], worklist.counts["due"],
            worklist.counts["completed"]) == (3, 3, 3)
    due = clinic_worklist(clinic=clinic_a, today=today, status="due")
    assert [row.study_id for row in due.rows] == ["A-0002", "A-0005", "A-0008"]
    assert due.counts == worklist.counts  # counts cover the clinic, not the filter
    found = clinic_worklist(clinic=clinic_a, today=today, search="a-0005")
    assert [row.study_id for row in found.rows] == ["A-0005"]


@pytest.mark.django_db
def test_withdrawn_patient_shows_as_withdrawn(clinic_a, nurse_a, make_patient,
                                              make_administration):
    from patients.services import patient_withdraw

    patient = make_patient()
    make_administration(patient)
    patient_withdraw(patient=patient, withdrawn_on=timezone.localdate(), reason="",
                     keep_collected_data=True, by=nurse_a)
    assert clinic_worklist(clinic=clinic_a).rows[0].status.code == "withdrawn"


# --- the order: what needs doing first (issue 14) ----------------------------------------

# One patient in each state, study IDs in the opposite order to the urgency order so that
# a study-ID order cannot pass for it: (study ID, days since baseline or None, extra).
STATES = [
    ("A-09", 100, {}),                        # overdue
    ("A-08", 80, {}),                         # due
    ("A-07", 70, {}),                         # due soon
    ("A-06", 130, {}),                        # window missed
    ("A-05", None, {}),                       # baseline to enter
    ("A-04", 10, {}),                         # not yet due
    ("A-03", 100, {"followup": True}),        # completed
    ("A-02", 100, {"lost": True}),            # lost to follow-up
    ("A-01", 100, {"withdrawn": True}),       # withdrawn
]


def _one_in_each_state(clinic: Clinic, nurse, today: dt.date) -> None:
    from patients.services import patient_withdraw

    for study_id, days, extra in STATES:
        patient = Patient.objects.create(
            clinic=clinic, study_id=study_id, consented_on=today - dt.timedelta(days=200),
            consent_form_version="v1", consent_taken_by="Nurse",
            followup_status="lost" if extra.get("lost") else "active",
            lost_reason="did_not_attend" if extra.get("lost") else "")
        if days is not None:
            Administration.objects.create(patient=patient, timepoint="baseline",
                                          status="complete", **full_answers(),
                                          administered_on=today - dt.timedelta(days=days))
        if extra.get("followup"):
            Administration.objects.create(patient=patient, timepoint="followup",
                                          status="complete", administered_on=today,
                                          **full_answers())
        if extra.get("withdrawn"):
            patient_withdraw(patient=patient, withdrawn_on=today, reason="",
                             keep_collected_data=True, by=nurse)


@pytest.mark.django_db
def test_worklist_orders_by_what_needs_doing(clinic_a, nurse_a):
    today = timezone.localdate()
    _one_in_each_state(clinic_a, nurse_a, today)
    rows = clinic_worklist(clinic=clinic_a, today=today).rows
    assert [row.status.code for row in rows] == [
        "overdue", "due", "due_soon", "window_missed", "baseline", "not_yet_due",
        "completed", "lost", "withdrawn"]
    assert [row.study_id for row in rows] == [study_id for study_id, _, _ in STATES]


@pytest.mark.django_db
def test_worklist_orders_by_study_id_within_a_status(clinic_a):
    today = timezone.localdate()
    _bulk_cohort(clinic_a, 6, today=today)  # 1, 4 baseline; 2, 5 due; 3, 6 completed
    rows = clinic_worklist(clinic=clinic_a, today=today).rows
    assert [row.study_id for row in rows] == ["A-0002", "A-0005", "A-0001", "A-0004",
                                              "A-0003", "A-0006"]


@pytest.mark.django_db
def test_worklist_other_orders(clinic_a, nurse_a):
    today = timezone.localdate()
    _one_in_each_state(clinic_a, nurse_a, today)
    by_id = clinic_worklist(clinic=clinic_a, today=today, sort="study_id").rows
    assert [row.study_id for row in by_id] == sorted(s for s, _, _ in STATES)
    by_baseline = [row.study_id for row in
                   clinic_worklist(clinic=clinic_a, today=today, sort="baseline").rows]
    # oldest baseline first, ties by study ID, no baseline last
    assert by_baseline == ["A-06", "A-01", "A-02", "A-03", "A-09", "A-08", "A-07", "A-04",
                           "A-05"]
