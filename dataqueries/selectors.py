"""Reads of queries, scoped to who may see them (core.permissions):
- data managers: every clinic's queries;
- nurses: the queries of the clinics where they are a nurse (another clinic's: 404);
- researchers and statisticians: none (a query names a patient's doubtful data).

For other pages (the lead wires them in): open_query_counts(clinic) (or
open_query_counts_by_study_id(clinic), keyed as the worklist's rows are) for the worklist,
queries_for_patient(patient) for the patient record (show it to users for whom
may_view_queries(user=..., clinic=patient.clinic) holds), query_counts_by_clinic() for the
dashboard and the data-quality page.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404

from clinics.models import Clinic, Role
from core.permissions import (
    CAN_ANSWER_QUERIES,
    CAN_RAISE_QUERIES,
    CAN_VIEW_QUERIES,
    has_capability,
)
from patients.models import Patient

from .models import CLOSED_STATUSES, Query, QueryStatus


def may_view_queries(*, user: AbstractBaseUser, clinic: Clinic | None = None) -> bool:
    """Whether the user sees queries (of `clinic`, when one is given)."""
    return has_capability(user, CAN_VIEW_QUERIES, clinic=clinic)


def may_raise_queries(*, user: AbstractBaseUser) -> bool:
    """Data managers raise, close and re-open queries."""
    return has_capability(user, CAN_RAISE_QUERIES)


def may_answer(*, user: AbstractBaseUser, query: Query) -> bool:
    """A nurse of the patient's clinic answers while the query is not closed."""
    return not query.is_closed and has_capability(user, CAN_ANSWER_QUERIES,
                                                  clinic=query.patient.clinic)


def queries_for_user(*, user: AbstractBaseUser) -> QuerySet[Query]:
    """Every query the user may see, newest first."""
    queries = Query.objects.select_related("patient__clinic", "administration", "raised_by")
    if may_raise_queries(user=user):
        return queries
    if not may_view_queries(user=user):
        return queries.none()
    nurse_clinics = user.memberships.filter(role=Role.NURSE).values("clinic_id")
    return queries.filter(patient__clinic_id__in=nurse_clinics)


def filter_queries(queries: QuerySet[Query], *, status: str = "", clinic: str = ""
                   ) -> QuerySet[Query]:
    """The list page's filters: "unclosed" (the default), "open", "answered", "closed",
    "all"; and a clinic code."""
    if status == "closed":
        queries = queries.filter(status__in=CLOSED_STATUSES)
    elif status in (QueryStatus.OPEN, QueryStatus.ANSWERED):
        queries = queries.filter(status=status)
    elif status != "all":
        queries = queries.exclude(status__in=CLOSED_STATUSES)
    if clinic:
        queries = queries.filter(patient__clinic__code=clinic)
    return queries


def get_query_for_user(*, user: AbstractBaseUser, query_id: int) -> Query:
    """The query, if the user may see it; 404 otherwise (outsiders learn nothing)."""
    try:
        return queries_for_user(user=user).select_related("closed_by").get(pk=query_id)
    except Query.DoesNotExist:
        raise Http404("No such query.") from None


def query_thread(query: Query):
    """The query's messages, oldest first, with their authors."""
    return query.messages.select_related("by").order_by("at", "pk")


def current_value(query: Query):
    """The value the query's field or item holds now (None when it names none)."""
    if not query.item:
        return None
    record = query.administration or query.patient
    display = getattr(record, f"get_{query.item}_display", None)
    return display() if display else getattr(record, query.item, None)


def open_query_counts(clinic: Clinic) -> dict[int, int]:
    """{patient id: number of open queries} at the clinic, for the worklist: open means
    awaiting the clinic's answer (raised or re-opened). One query."""
    return _open_counts(clinic, "patient_id")


def open_query_counts_by_study_id(clinic: Clinic) -> dict[str, int]:
    """The same, keyed by study ID: the worklist's rows (patients.worklist.WorklistRow)
    carry the study ID, not the patient's id."""
    return _open_counts(clinic, "patient__study_id")


def _open_counts(clinic: Clinic, key: str) -> dict:
    rows = (Query.objects.filter(patient__clinic=clinic, status=QueryStatus.OPEN)
            .values(key).annotate(n=Count("pk")).values_list(key, "n"))
    return dict(rows)


def queries_for_patient(patient: Patient) -> QuerySet[Query]:
    """The patient's queries, unclosed first, then newest first, for the patient record."""
    return (Query.objects.filter(patient=patient)
            .select_related("administration", "raised_by")
            .annotate(closed=Q(status__in=CLOSED_STATUSES))
            .order_by("closed", "-raised_at", "-pk"))


@dataclass(frozen=True)
class ClinicQueryCounts:
    clinic: Clinic
    open: int
    answered: int
    resolved: int
    accepted: int

    @property
    def closed(self) -> int:
        return self.resolved + self.accepted


def query_counts_by_clinic() -> list[ClinicQueryCounts]:
    """Open, answered and closed (resolved + accepted) queries of every clinic, in clinic
    order, clinics without queries included. One query."""
    counted = {status: Count("patients__queries",
                             filter=Q(patients__queries__status=status))
               for status in QueryStatus.values}
    clinics = Clinic.objects.annotate(**{f"n_{s}": c for s, c in counted.items()})
    return [ClinicQueryCounts(clinic=clinic, open=clinic.n_open, answered=clinic.n_answered,
                              resolved=clinic.n_resolved, accepted=clinic.n_accepted)
            for clinic in clinics.order_by("code")]


def accepted_counts_by_source() -> dict[str, int]:
    """{source: number of queries closed as explained and accepted}: how many rows each
    data-quality list leaves out."""
    return dict(Query.objects.filter(status=QueryStatus.ACCEPTED).values("source")
                .annotate(n=Count("pk")).values_list("source", "n"))


def queries_version() -> tuple:
    """Changes whenever a query is raised or changes state (for pages that keep lists)."""
    latest = Query.objects.aggregate(n=Count("pk"), at=Max("updated_at"))
    return latest["n"], latest["at"]


def unclosed_queries_by_target(*, sources: list[str], patient_ids: list[int]
                               ) -> dict[tuple[str, int, int | None], Query]:
    """{(source, patient id, administration id): the unclosed query} of these patients,
    raised from these sources (the data-quality page's rows). One query."""
    queries = (Query.objects.exclude(status__in=CLOSED_STATUSES)
               .filter(source__in=sources, patient_id__in=patient_ids).order_by("pk"))
    return {(q.source, q.patient_id, q.administration_id): q for q in queries}
