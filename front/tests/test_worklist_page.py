"""The worklist page: pages, filters, orders, headings and a fixed query count (moved from
patients/tests/test_worklist.py; the cohorts are questionnaires/tests/test_worklist.py's)."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clinics.models import Clinic
from patients.models import Patient
from questionnaires.tests.test_worklist import (  # noqa: F401 (study_window: autouse)
    STATES,
    _bulk_cohort,
    _one_in_each_state,
    study_window,
)


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
    # 10 for the worklist, 3 for the self-completion column, 4 for queries, sign-off, keying
    assert counts[0] <= 17


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
    assert counts[0] <= 17  # the worklist's, three for the column, four for issue 17's


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
