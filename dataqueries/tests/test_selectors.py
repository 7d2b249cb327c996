"""The reads other pages use: open counts for the worklist, a patient's queries for the
record, counts per clinic for the dashboard and the data-quality page."""
from __future__ import annotations

import pytest

from dataqueries.models import QueryStatus
from dataqueries.selectors import (
    current_value,
    open_query_counts,
    open_query_counts_by_study_id,
    queries_for_patient,
    query_counts_by_clinic,
)
from dataqueries.services import query_answer, query_close, query_raise, query_reopen

pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort(make_patient, make_administration, clinic_b, nurse_a, nurse_b, data_manager):
    """A-001: 2 open + 1 answered; A-002: 1 accepted, 1 resolved then re-opened (open);
    B-001: 1 answered; clinic C: none."""
    from clinics.models import Clinic

    Clinic.objects.create(code="C", name="Clinic C")
    a1, a2 = make_patient(study_id="A-001"), make_patient(study_id="A-002")
    b1 = make_patient(clinic=clinic_b, study_id="B-001")

    def raise_on(patient):
        return query_raise(patient=patient, by=data_manager, text="Check.")[0]

    raise_on(a1), raise_on(a1)
    query_answer(query=raise_on(a1), by=nurse_a, text="Fine.")
    query_close(query=raise_on(a2), by=data_manager, outcome=QueryStatus.ACCEPTED,
                reason="As on paper.")
    reopened = query_close(query=raise_on(a2), by=data_manager, outcome=QueryStatus.RESOLVED)
    query_reopen(query=reopened, by=data_manager, text="Look again.")
    query_answer(query=raise_on(b1), by=nurse_b, text="Fine.")
    return a1, a2, b1


def test_open_counts_are_the_queries_awaiting_the_clinic(cohort, clinic_a, clinic_b,
                                                         django_assert_num_queries):
    a1, a2, b1 = cohort
    with django_assert_num_queries(1):
        assert open_query_counts(clinic_a) == {a1.pk: 2, a2.pk: 1}
    assert open_query_counts(clinic_b) == {}  # answered: the data manager's turn
    assert open_query_counts_by_study_id(clinic_a) == {"A-001": 2, "A-002": 1}


def test_counts_by_clinic_include_every_clinic(cohort, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = query_counts_by_clinic()
    assert [(r.clinic.code, r.open, r.answered, r.closed, r.accepted) for r in rows] == [
        ("A", 3, 1, 1, 1), ("B", 0, 1, 0, 0), ("C", 0, 0, 0, 0)]


def test_a_patients_queries_unclosed_first(cohort):
    _, a2, _ = cohort
    statuses = [q.status for q in queries_for_patient(a2)]
    assert statuses == [QueryStatus.OPEN, QueryStatus.ACCEPTED]


def test_the_value_now_of_an_item_and_of_a_patient_field(make_patient, make_administration,
                                                         data_manager):
    patient = make_patient(study_id="A-003", gender="female", age=61)
    baseline = make_administration(patient)
    on_item = query_raise(patient=patient, administration=baseline, item="bpi_worst",
                          text="x", by=data_manager)[0]
    on_gender = query_raise(patient=patient, item="gender", text="x", by=data_manager)[0]
    on_patient = query_raise(patient=patient, text="x", by=data_manager)[0]
    assert (current_value(on_item), current_value(on_gender), current_value(on_patient)) == (
        5, "Female", None)
