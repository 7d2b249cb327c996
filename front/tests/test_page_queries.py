"""The query count of each page front draws, on a demo-sized cohort (seed_demo: 3 clinics,
147 patients): every query is now run by the view's selectors, none from a template, and
the counts below are the bounds the pages keep (issue 16; before/after in the report)."""
from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinics.models import Clinic
from patients.models import Patient
from tests.factories import make_user

END = dt.date(2026, 6, 30)


@pytest.fixture
def demo(db, settings):
    settings.DEBUG = True
    call_command("seed_demo", "--force", "--no-refit", f"--end-date={END}", stdout=StringIO())
    clinic = Clinic.objects.order_by("code").first()
    nurse = make_user("front_nurse", [clinic], "nurse")
    # a patient with both questionnaires: the record's fullest page
    patient = (Patient.objects.filter(clinic=clinic, administrations__timepoint="followup")
               .order_by("study_id").first())
    # and one with a baseline only: the record offers the self-completion actions
    due = (Patient.objects.filter(clinic=clinic, administrations__timepoint="baseline",
                                  administrations__status="complete", withdrawal__isnull=True,
                                  followup_status="active")
           .exclude(administrations__timepoint="followup").order_by("study_id").first())
    return clinic, nurse, patient, due


def page_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def measure(client, clinic, nurse, patient, due) -> dict[str, int]:
    client.force_login(nurse)
    counts = {
        "worklist": page_queries(client, reverse("clinics:worklist", args=[clinic.code])),
        "detail": page_queries(client, reverse("patients:detail", args=[patient.study_id])),
        "detail_due": page_queries(client, reverse("patients:detail", args=[due.study_id])),
        "history": page_queries(client, reverse("patients:history", args=[patient.study_id])),
    }
    client.force_login(make_user("front_manager", [clinic], "data_manager"))
    counts["detail_manager"] = page_queries(
        client, reverse("patients:detail", args=[patient.study_id]))
    return counts


def test_page_query_counts_on_the_demo_cohort(client, demo):
    counts = measure(client, *demo)
    print("page queries:", counts)
    # Before issue 16 (queries run from template tags) the same: 13, 14, 15 and 11, of
    # which 5 or 6 are the session, the user, the role and the record's access log.
    # Issue 17 added to the worklist 4: the nurse's membership at the clinic (may she see
    # queries), the clinic's open queries per study ID, which of the page's patients are
    # signed off, the clinic's forms awaiting verification by status; and to the record 3:
    # the membership (queries), the patient's queries, the keying state of its forms.
    # (A nurse is not asked the sign-off blockers; a signed-off record adds its signer.)
    # A data manager's record: no membership checks (the role holds at every clinic), one
    # query per sign-off blocker (patients.signoff: questionnaires' two, dataqueries' one).
    assert counts == {"worklist": 17, "detail": 17, "detail_due": 18, "history": 11,
                      "detail_manager": 16}
