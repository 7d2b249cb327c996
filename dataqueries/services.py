"""Writes: raise, answer, close and re-open a query.

The state machine:
    raise  -> open
    open / answered          --answer (a nurse of the clinic)--> answered
    open / answered          --close (a data manager)-------> resolved | accepted
    answered / resolved / accepted --re-open (a data manager)---> open

Each step is one transaction under the query's row lock (raising: the patient's), checks
the state it finds there (not the one the user's page showed), and adds one QueryMessage
row; the query row's change history records the step too. A step the state does not allow
raises ValidationError with a message that says why, and writes nothing.
"""
from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format

from core.permissions import CAN_ANSWER_QUERIES, CAN_RAISE_QUERIES, has_capability
from patients.models import Patient
from questionnaires.models import Administration

from .models import (
    CLOSED_STATUSES,
    MessageAction,
    Query,
    QueryMessage,
    QuerySource,
    QueryStatus,
    administration_fields,
    patient_fields,
)

CLOSE_OUTCOMES = {QueryStatus.RESOLVED: MessageAction.RESOLVED,
                  QueryStatus.ACCEPTED: MessageAction.ACCEPTED}


def _who_when(user, at) -> str:
    return f"{user.get_username()} on {date_format(timezone.localtime(at), 'j M Y, H:i')}"


def _required(text: str, field: str, message: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError({field: message})
    return text


def _check_target(*, patient: Patient, administration: Administration | None,
                  item: str) -> None:
    if administration is not None and administration.patient_id != patient.pk:
        raise ValidationError({"timepoint": "That questionnaire is not this patient's."})
    fields = administration_fields() if administration is not None else patient_fields()
    if item and item not in fields:
        where = "a questionnaire" if administration is not None else "the patient"
        raise ValidationError({"item": f"{item} is not a field or item of {where}."})


def _save(query: Query, *, by: AbstractBaseUser, action: str, text: str) -> None:
    """Save the query (its history row names who and why) and add the thread's message."""
    query._history_user = by
    query._change_reason = MessageAction(action).label
    query.full_clean()
    query.save()
    QueryMessage.objects.create(query=query, action=action, text=text, by=by)


def _locked(query: Query) -> Query:
    """The query's row, locked, as it is now (another user may have changed it).

    Locked first, then read: a locking query that joins (closed_by) and waited for another
    transaction would return the joined rows as they were before that transaction.
    """
    Query.objects.select_for_update().filter(pk=query.pk).values_list("pk").first()
    return Query.objects.select_related("patient__clinic", "closed_by").get(pk=query.pk)


def _unclosed_duplicate(*, patient: Patient, administration: Administration | None,
                        source: str) -> Query | None:
    """The unclosed query of this data-quality row (its list, patient and questionnaire)."""
    return (Query.objects.exclude(status__in=CLOSED_STATUSES)
            .filter(patient=patient, administration=administration, source=source).first())


@transaction.atomic
def query_raise(*, patient: Patient, by: AbstractBaseUser, text: str,
                administration: Administration | None = None, item: str = "",
                source: str = QuerySource.MANUAL,
                raise_key: uuid.UUID | None = None) -> tuple[Query, bool]:
    """Raise a query on the patient (or one administration of theirs, optionally one item).

    Returns (query, created). A repeat of the same form (same `raise_key`) returns the query
    it raised, and created=False. A data-quality row that already has an unclosed query
    gets no second one.
    """
    if not has_capability(by, CAN_RAISE_QUERIES):
        raise PermissionDenied("Only data managers raise queries.")
    text = _required(text, "text", "Write the question for the clinic.")
    item = (item or "").strip()
    _check_target(patient=patient, administration=administration, item=item)
    # The patient's row lock queues two submissions of one form: the second finds the first.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    if raise_key is not None:
        repeat = Query.objects.filter(raise_key=raise_key).first()
        if repeat is not None:
            return repeat, False
    if source != QuerySource.MANUAL:
        duplicate = _unclosed_duplicate(patient=patient, administration=administration,
                                        source=source)
        if duplicate is not None:
            raise ValidationError(f"Query {duplicate.pk} on this is still "
                                  f"{duplicate.get_status_display().lower()}: answer or close "
                                  "it instead of raising another.")
    query = Query(patient=patient, administration=administration, item=item, source=source,
                  text=text, raised_by=by, raise_key=raise_key)
    try:
        with transaction.atomic():
            _save(query, by=by, action=MessageAction.RAISED, text=text)
    except IntegrityError:  # the same key committed meanwhile (no lock on SQLite's side)
        repeat = Query.objects.filter(raise_key=raise_key).first() if raise_key else None
        if repeat is None:
            raise
        return repeat, False
    return query, True


@transaction.atomic
def query_answer(*, query: Query, by: AbstractBaseUser, text: str) -> Query:
    """A nurse of the patient's clinic answers (again, if need be) an unclosed query."""
    query = _locked(query)
    if not has_capability(by, CAN_ANSWER_QUERIES, clinic=query.patient.clinic):
        raise PermissionDenied("Only the clinic's nurses answer its queries.")
    if query.is_closed:
        raise ValidationError(
            f"Not saved: this query was closed ({query.get_status_display().lower()}) by "
            f"{_who_when(query.closed_by, query.closed_at)}. A closed query takes no answer; "
            "ask the data manager to re-open it if more needs saying.")
    text = _required(text, "text", "Write your answer: what you found, and whether you "
                                   "corrected the entry.")
    query.status = QueryStatus.ANSWERED
    _save(query, by=by, action=MessageAction.ANSWERED, text=text)
    return query


@transaction.atomic
def query_close(*, query: Query, by: AbstractBaseUser, outcome: str,
                reason: str = "") -> Query:
    """A data manager closes an open or answered query: resolved (the data were corrected
    or confirmed) or explained and accepted (the data stand; the reason is required)."""
    if not has_capability(by, CAN_RAISE_QUERIES):
        raise PermissionDenied("Only data managers close queries.")
    if outcome not in CLOSE_OUTCOMES:
        raise ValidationError({"outcome": "Choose how the query is closed."})
    query = _locked(query)
    if query.is_closed:
        raise ValidationError(
            f"Not saved: this query was already closed "
            f"({query.get_status_display().lower()}) by "
            f"{_who_when(query.closed_by, query.closed_at)}.")
    reason = (reason or "").strip()
    if outcome == QueryStatus.ACCEPTED:
        reason = _required(reason, "reason", "Say why the explanation is accepted: the "
                                             "reason is kept with the query.")
    query.status, query.closed_by, query.closed_at = outcome, by, timezone.now()
    query.close_reason = reason
    _save(query, by=by, action=CLOSE_OUTCOMES[outcome], text=reason)
    return query


@transaction.atomic
def query_reopen(*, query: Query, by: AbstractBaseUser, text: str) -> Query:
    """A data manager re-opens an answered or closed query: the clinic is asked again."""
    if not has_capability(by, CAN_RAISE_QUERIES):
        raise PermissionDenied("Only data managers re-open queries.")
    query = _locked(query)
    if query.status == QueryStatus.OPEN:
        raise ValidationError("Not saved: this query is already open (awaiting the clinic).")
    text = _required(text, "text", "Say what the clinic should look at again.")
    query.status, query.closed_by, query.closed_at, query.close_reason = (
        QueryStatus.OPEN, None, None, "")
    _save(query, by=by, action=MessageAction.REOPENED, text=text)
    return query
