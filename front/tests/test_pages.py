"""What the record, the history and the worklist pages show (moved from the apps' tests:
questionnaires/tests/test_history.py, patients/tests/test_views_patient.py and
questionnaires/tests/test_withdrawal.py)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from questionnaires.tests.entry_helpers import entry_url
from questionnaires.tests.test_history import _correct
from questionnaires.tests.test_withdrawal import NOTE

pytestmark = pytest.mark.django_db


@pytest.fixture
def nurse_client(client, nurse_a):
    client.force_login(nurse_a)
    return client


def test_history_page_lists_the_change(client, nurse_a, make_patient, make_administration):
    patient = make_patient()
    admin = make_administration(patient)
    _correct(patient, admin, nurse_a, bpi_now=2)
    client.force_login(nurse_a)
    page = client.get(reverse("patients:history", args=[patient.study_id])).content.decode()
    assert "Pain right now" in page and "keying error" in page


def test_patient_page_shows_scores_and_status(nurse_client, make_patient, make_administration):
    patient = make_patient()
    make_administration(patient)
    page = nurse_client.get(reverse("patients:detail", args=[patient.study_id])).content
    page = page.decode()
    assert 'data-score="ppic_partnership">44.0<' in page
    assert "Enter 3-month follow-up" in page


def test_worklist_says_when_and_why(client, withdrawn, nurse_a, clinic_a):
    patient = withdrawn(keep=True)
    client.force_login(nurse_a)
    page = client.get(reverse("clinics:worklist", args=[clinic_a.code])).content.decode()
    assert NOTE in page
    assert entry_url(patient, "followup") not in page
