"""A record with unclosed data queries cannot be signed off (dataqueries.signoff_checks,
registered with patients.signoff): open or answered blocks; resolved or accepted does not."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dataqueries.models import QueryStatus
from dataqueries.services import query_answer, query_close, query_raise
from patients.models import Patient
from patients.selectors import clinic_sign_off_preview, sign_off_state
from patients.services import clinic_sign_off, record_sign_off
from patients.signoff import sign_off_blockers

pytestmark = pytest.mark.django_db


def _registered_check():
    """The check as DataQueriesConfig.ready() registered it (this module does not import
    signoff_checks, so that a missing registration fails these tests)."""
    return next(blocker for blocker in sign_off_blockers()
                if blocker.__module__ == "dataqueries.signoff_checks")


def _raise(patient, by, text="Please check the age against the notes."):
    query, _ = query_raise(patient=patient, text=text, by=by)
    return query


@pytest.fixture
def two_unclosed(query, nurse_a, data_manager):
    """The conftest's open query on A-001's baseline, and a second one answered."""
    second = _raise(query.patient, data_manager)
    query_answer(query=second, by=nurse_a, text="Age checked: 48 is right.")
    return query, second


def test_sign_off_refused_with_the_number_of_unclosed_queries(two_unclosed, data_manager):
    patient = two_unclosed[0].patient
    with pytest.raises(ValidationError) as excinfo:
        record_sign_off(patient=patient, by=data_manager)
    assert excinfo.value.messages == ["A-001 cannot be signed off: 2 open data queries."]
    assert Patient.objects.get(pk=patient.pk).signed_off_at is None


def test_one_query_is_said_in_the_singular(query):
    assert sign_off_state(query.patient).blockers == ["1 open data query"]


def test_sign_off_allowed_once_every_query_is_closed(two_unclosed, data_manager):
    first, second = two_unclosed
    query_close(query=first, by=data_manager, outcome=QueryStatus.RESOLVED)
    query_close(query=second, by=data_manager, outcome=QueryStatus.ACCEPTED,
                reason="Confirmed from the clinic notes.")
    signed = record_sign_off(patient=first.patient, by=data_manager)
    assert Patient.objects.get(pk=signed.pk).signed_off_by == data_manager


def test_one_closed_query_of_two_still_blocks(two_unclosed, data_manager):
    first, _ = two_unclosed
    query_close(query=first, by=data_manager, outcome=QueryStatus.RESOLVED)
    assert sign_off_state(first.patient).blockers == ["1 open data query"]


def test_clinic_sign_off_skips_the_record_with_queries_and_says_why(
        two_unclosed, make_patient, make_administration, data_manager, clinic_a):
    clean = make_patient(study_id="A-002")
    make_administration(clean)
    assert clinic_sign_off_preview(clinic_a).blocked == [("A-001", "2 open data queries")]
    result = clinic_sign_off(clinic=clinic_a, by=data_manager)
    assert result.signed_off == ["A-002"]
    assert result.skipped == [("A-001", "2 open data queries")]


def test_the_check_asks_about_many_patients_in_one_query(query, make_patient, data_manager):
    others = [make_patient(study_id=f"A-1{i:02d}") for i in range(5)]
    for patient in others:
        _raise(patient, data_manager)
    ids = [query.patient.pk, *(patient.pk for patient in others)]
    with CaptureQueriesContext(connection) as queries:
        blocked = _registered_check()(ids)
    assert len(queries) == 1
    assert blocked == {pk: "1 open data query" for pk in ids}


def test_sign_off_page_lists_the_queries_as_the_reason(two_unclosed, client, data_manager):
    client.force_login(data_manager)
    page = client.get(reverse("patients:sign_off", args=["A-001"])).content.decode()
    assert "cannot be signed off yet" in page and "2 open data queries" in page
