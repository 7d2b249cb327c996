"""The query state machine (dataqueries.services): every step, the steps it refuses (with a
message, nothing written) and who may take them; each step is in the audit trail."""
from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from dataqueries.models import MessageAction, Query, QueryMessage, QuerySource, QueryStatus
from dataqueries.services import query_answer, query_close, query_raise, query_reopen

pytestmark = pytest.mark.django_db


def _actions(query) -> list[tuple[str, str]]:
    return list(QueryMessage.objects.filter(query=query).order_by("pk")
                .values_list("action", "by__username"))


def _written() -> tuple[int, int, int]:
    return Query.objects.count(), QueryMessage.objects.count(), Query.history.count()


def test_a_raised_query_is_open_with_its_first_message(query, data_manager):
    assert query.status == QueryStatus.OPEN
    assert (query.raised_by, query.item, query.administration.timepoint) == (
        data_manager, "bpi_worst", "baseline")
    message = QueryMessage.objects.get(query=query)
    assert (message.action, message.by, message.text) == (
        MessageAction.RAISED, data_manager, "Worst pain is empty: please check.")


def test_answer_then_close_as_resolved(query, nurse_a, data_manager):
    query_answer(query=query, by=nurse_a, text="Corrected from the paper form: 7.")
    assert Query.objects.get(pk=query.pk).status == QueryStatus.ANSWERED
    closed = query_close(query=query, by=data_manager, outcome=QueryStatus.RESOLVED)
    assert (closed.status, closed.closed_by) == (QueryStatus.RESOLVED, data_manager)
    assert closed.closed_at is not None
    assert _actions(query) == [("raised", "data_manager"), ("answered", "nurse_a"),
                               ("resolved", "data_manager")]


def test_every_step_is_in_the_query_history_with_who(query, nurse_a, data_manager):
    query_answer(query=query, by=nurse_a, text="Left blank by the patient.")
    query_close(query=query, by=data_manager, outcome=QueryStatus.ACCEPTED,
                reason="Blank on paper.")
    history = list(Query.history.filter(id=query.pk).order_by("history_id")
                   .values_list("status", "history_user__username", "history_change_reason"))
    assert history == [("open", "data_manager", "Raised"), ("answered", "nurse_a", "Answered"),
                       ("accepted", "data_manager", "Closed as explained and accepted")]


def test_accepting_needs_a_reason_and_keeps_it(query, data_manager):
    before = _written()
    with pytest.raises(ValidationError) as error:
        query_close(query=query, by=data_manager, outcome=QueryStatus.ACCEPTED, reason="  ")
    assert "reason" in error.value.message_dict
    assert _written() == before
    query_close(query=query, by=data_manager, outcome=QueryStatus.ACCEPTED,
                reason="Patient left it blank.")
    assert Query.objects.get(pk=query.pk).close_reason == "Patient left it blank."


def test_an_answer_to_a_closed_query_is_refused_and_nothing_is_written(query, nurse_a,
                                                                       data_manager):
    query_close(query=query, by=data_manager, outcome=QueryStatus.RESOLVED)
    before = _written()
    with pytest.raises(ValidationError, match="closed .* by data_manager"):
        query_answer(query=query, by=nurse_a, text="Late answer.")
    assert _written() == before
    assert Query.objects.get(pk=query.pk).status == QueryStatus.RESOLVED


def test_closing_twice_says_who_closed_it_first(query, data_manager, clinic_b):
    from tests.factories import make_user

    other = make_user("manager_2", [clinic_b], "data_manager")
    query_close(query=query, by=data_manager, outcome=QueryStatus.RESOLVED)
    before = _written()
    with pytest.raises(ValidationError, match="already closed .* by data_manager"):
        query_close(query=query, by=other, outcome=QueryStatus.ACCEPTED, reason="x")
    assert _written() == before


def test_reopen_clears_the_close_and_asks_the_clinic_again(query, nurse_a, data_manager):
    query_close(query=query, by=data_manager, outcome=QueryStatus.ACCEPTED, reason="ok")
    reopened = query_reopen(query=query, by=data_manager, text="The scan shows a 7.")
    assert (reopened.status, reopened.closed_at, reopened.closed_by,
            reopened.close_reason) == (QueryStatus.OPEN, None, None, "")
    query_answer(query=query, by=nurse_a, text="Entered 7.")
    assert [a for a, _ in _actions(query)] == ["raised", "accepted", "reopened", "answered"]


def test_an_answered_query_can_be_sent_back_but_an_open_one_not_reopened(query, nurse_a,
                                                                         data_manager):
    with pytest.raises(ValidationError, match="already open"):
        query_reopen(query=query, by=data_manager, text="again")
    query_answer(query=query, by=nurse_a, text="It was 7.")
    assert query_reopen(query=query, by=data_manager, text="Did you enter it?").status == \
        QueryStatus.OPEN


@pytest.mark.parametrize("step", ["answer", "close", "reopen"])
def test_empty_text_is_refused_naming_the_field(query, nurse_a, data_manager, step):
    query_answer(query=query, by=nurse_a, text="first")
    before = _written()
    with pytest.raises(ValidationError) as error:
        if step == "answer":
            query_answer(query=query, by=nurse_a, text=" ")
        elif step == "close":
            query_close(query=query, by=data_manager, outcome="deleted")
        else:
            query_reopen(query=query, by=data_manager, text="")
    assert set(error.value.message_dict) == {"outcome" if step == "close" else "text"}
    assert _written() == before


def test_only_the_clinics_nurses_answer(query, nurse_b, data_manager, researcher):
    for user in (nurse_b, data_manager, researcher):
        with pytest.raises(PermissionDenied):
            query_answer(query=query, by=user, text="x")
    assert Query.objects.get(pk=query.pk).status == QueryStatus.OPEN


def test_only_data_managers_raise_close_and_reopen(baseline, query, nurse_a, researcher):
    for user in (nurse_a, researcher):
        with pytest.raises(PermissionDenied):
            query_raise(patient=baseline.patient, by=user, text="x")
        with pytest.raises(PermissionDenied):
            query_close(query=query, by=user, outcome=QueryStatus.RESOLVED)
        with pytest.raises(PermissionDenied):
            query_reopen(query=query, by=user, text="x")
    assert Query.objects.count() == 1


def test_the_same_form_key_raises_one_query(baseline, data_manager):
    key = uuid.uuid4()
    first, created = query_raise(patient=baseline.patient, by=data_manager, text="Check.",
                                 raise_key=key)
    again, created_again = query_raise(patient=baseline.patient, by=data_manager,
                                       text="Check.", raise_key=key)
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert (Query.objects.count(), QueryMessage.objects.count()) == (1, 1)


def test_a_data_quality_row_gets_one_unclosed_query(baseline, data_manager):
    raised, _ = query_raise(patient=baseline.patient, administration=baseline,
                            source=QuerySource.MISSING_SCORES, text="Missing score.",
                            by=data_manager)
    with pytest.raises(ValidationError, match=f"Query {raised.pk} on this is still open"):
        query_raise(patient=baseline.patient, administration=baseline,
                    source=QuerySource.MISSING_SCORES, text="Again.", by=data_manager)
    query_close(query=raised, by=data_manager, outcome=QueryStatus.RESOLVED)
    query_raise(patient=baseline.patient, administration=baseline,
                source=QuerySource.MISSING_SCORES, text="It is back.", by=data_manager)
    assert Query.objects.count() == 2


@pytest.mark.parametrize("administration, item, field", [
    (True, "age", "item"),            # a patient field named on a questionnaire
    (False, "bpi_worst", "item"),     # an item named on the patient
    (True, "no_such_item", "item"),
])
def test_a_field_the_target_does_not_have_is_refused(baseline, data_manager,
                                                     administration, item, field):
    with pytest.raises(ValidationError) as error:
        query_raise(patient=baseline.patient, administration=baseline if administration
                    else None, item=item, text="x", by=data_manager)
    assert set(error.value.message_dict) == {field}
    assert Query.objects.count() == 0


def test_another_patients_questionnaire_is_refused(baseline, make_patient, data_manager):
    other = make_patient(study_id="A-002")
    with pytest.raises(ValidationError) as error:
        query_raise(patient=other, administration=baseline, text="x", by=data_manager)
    assert set(error.value.message_dict) == {"timepoint"}
    assert Query.objects.count() == 0


def test_the_text_must_be_given(baseline, data_manager):
    with pytest.raises(ValidationError) as error:
        query_raise(patient=baseline.patient, text="   ", by=data_manager)
    assert set(error.value.message_dict) == {"text"}
