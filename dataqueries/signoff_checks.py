"""What stops a record from being signed off, as far as its data queries go: a question
still open with the clinic, or answered and not yet reviewed, means the data may change.

Registered with patients.signoff in DataQueriesConfig.ready() (patients cannot import this
app). The check asks about many patients in one query, as a clinic's bulk sign-off needs.
"""
from __future__ import annotations

from django.db.models import Count

from patients.signoff import register_sign_off_blocker

from .models import CLOSED_STATUSES, Query


@register_sign_off_blocker
def unclosed_queries(patient_ids: list[int]) -> dict[int, str]:
    """Patients with a query that is open or answered (not resolved, not accepted)."""
    rows = (Query.objects.filter(patient_id__in=patient_ids)
            .exclude(status__in=CLOSED_STATUSES)
            .order_by().values_list("patient_id").annotate(count=Count("pk")))
    return {pk: f"{count} open data quer{'y' if count == 1 else 'ies'}" for pk, count in rows}
