"""Worklist status rules at their boundaries, filters, counts, and a fixed query count."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinics.models import Clinic
from patients.models import Patient
from patients.worklist import worklist_status
from questionnaires.models import Administration
from questionnaires.worklist import clinic_worklist
from tests.factories import full_answers

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


def _queries_at_5_and_500_patients(client, nurse, clinic, *, then=lambda clinic: None):
    """The worklist page's query counts with 5 and then 500 patients (`then` adds to each
    cohort), and the last page."""
    client.force_login(nurse)
    url = reverse("clinics:worklist", args=[clinic.code])
    counts = []
    for grow in (lambda: _bulk_cohort(clinic, 5, today=timezone.localdate()),
                 lambda: _extend(clinic, 495)):
        grow()
        then(clinic)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        counts.append(len(queries))
    return counts, response


@pytest.mark.django_db
def test_worklist_page_runs_the_same_queries_for_5_and_500_patients(client, nurse_a, clinic_a):
    counts, response = _queries_at_5_and_500_patients(client, nurse_a, clinic_a)
    assert Patient.objects.count() == 500
    page = response.content.decode()
    assert page.count("<tr>") == 101  # header + the first page of 100
    assert "of 500 matching" in page
    assert counts[0] == counts[1]
    assert counts[0] <= 13  # 10 for the worklist, 3 for the self-completion column


def _extend(clinic: Clinic, n: int) -> None:
    Patient.objects.bulk_create([
        Patient(clinic=clinic, study_id=f"{clinic.code}-9{i:04d}",
                consented_on=timezone.localdate() - dt.timedelta(days=10),
                consent_form_version="v1",
                consent_taken_by="Nurse") for i in range(n)])


@pytest.mark.django_db
def test_worklist_pages_keep_the_filter(client, nurse_a, clinic_a):
    _extend(clinic_a, 150)
    client.force_login(nurse_a)
    url = reverse("clinics:worklist", args=["A"])
    first = client.get(url, {"status": "baseline"}).content.decode()
    assert "Patients 1–100 of 150 matching" in first
    assert "?status=baseline&amp;page=2" in first
    second = client.get(url, {"status": "baseline", "page": 2}).content.decode()
    assert second.count("<tr>") == 51
    assert "A-90149" in second and "A-90000" not in second


@pytest.mark.django_db
def test_worklist_heading_names_the_clinic_once(client, nurse_a, clinic_a):
    client.force_login(nurse_a)
    html = client.get(reverse("clinics:worklist", args=["A"])).content.decode()
    heading = html[html.index("<h1>"):html.index("</h1>")]
    assert heading.count(clinic_a.code) == 1 and clinic_a.name in heading


@pytest.mark.django_db
def test_worklist_heading_adds_the_code_when_the_name_lacks_it(client, nurse_a, clinic_a):
    Clinic.objects.filter(pk=clinic_a.pk).update(name="Royal Infirmary pain service")
    client.force_login(nurse_a)
    html = client.get(reverse("clinics:worklist", args=["A"])).content.decode()
    assert "Royal Infirmary pain service (A)</span></h1>" in html


def _outreach_for_everyone(clinic: Clinic) -> None:
    """Each patient of the clinic without a link yet given a follow-up link opened, a
    reminder address and a failed reminder (built directly: the services are tested with
    their apps)."""
    from django.utils import timezone

    from reminders.models import ReminderContact, ReminderSend
    from selfcompletion.models import Invitation

    patients = list(Patient.objects.filter(clinic=clinic, invitations__isnull=True))
    today, now = timezone.localdate(), timezone.now()
    Invitation.objects.bulk_create([
        Invitation(patient=patient, timepoint="followup", channel="link", valid_from=today,
                   valid_until=today + dt.timedelta(days=30), opened_at=now,
                   token_hash=f"t{patient.pk:063d}", code_hash=f"c{patient.pk:063d}")
        for patient in patients])
    ReminderContact.objects.bulk_create([
        ReminderContact(patient=patient, email_encrypted="x", consented_on=today)
        for patient in patients])
    ReminderSend.objects.bulk_create([
        ReminderSend(patient=patient, kind="window_open", status="failed", attempts=2)
        for patient in patients])


@pytest.mark.django_db
def test_worklist_page_with_invitations_and_reminders_runs_the_same_queries_for_5_and_500(
        client, nurse_a, clinic_a):
    counts, response = _queries_at_5_and_500_patients(client, nurse_a, clinic_a,
                                                      then=_outreach_for_everyone)
    page = response.content.decode()
    assert page.count("Link: opened") == 100            # the first page of 100
    assert page.count("Reminder failed, will retry") == 100
    assert counts[0] == counts[1]
    assert counts[0] <= 13  # the worklist's queries and three for the column


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


@pytest.mark.django_db
def test_worklist_page_sort_parameter_kept_by_filters_search_and_pages(client, nurse_a,
                                                                       clinic_a):
    _one_in_each_state(clinic_a, nurse_a, timezone.localdate())
    client.force_login(nurse_a)
    url = reverse("clinics:worklist", args=["A"])

    def order(**params) -> list[str]:
        html = client.get(url, params).content.decode()
        return [s for s, _ in sorted(((s, html.index(f">{s}</a></th>")) for s, _, _ in STATES),
                                     key=lambda pair: pair[1])]

    assert order()[:2] == ["A-09", "A-08"]                 # overdue first by default
    assert order(sort="study_id")[:2] == ["A-01", "A-02"]
    assert order(sort="nonsense") == order()                # a bad value: urgency
    html = client.get(url, {"sort": "study_id"}).content.decode()
    assert 'href="?sort=study_id&amp;status=overdue"' in html   # the status filters
    assert '<input type="hidden" name="sort" value="study_id">' in html  # the search
    assert '<option value="study_id" selected>' in html
    _extend(clinic_a, 150)
    paged = client.get(url, {"sort": "baseline", "status": "baseline"}).content.decode()
    assert "?sort=baseline&amp;status=baseline&amp;page=2" in paged
