"""Reads of verified keying: a form's state, the forms waiting at a clinic, the filter the
analysis uses, and the keying discrepancy rates.

For the analysis (analysis.stats.cohort): `verified_q()` is a filter on Administration
querysets; `cohort_queryset().filter(verified_q())` leaves out the unverified forms, and
`unverified_count(queryset)` is the count to show beside the option. `with_verified(qs)`
adds a boolean column `verified` instead (it can go into the frame's values_list).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet

from clinics.models import Clinic

from .models import Administration
from .verification_models import (
    UNVERIFIED_STATUSES,
    KeyingDiscrepancy,
    KeyingStatus,
    KeyingVerification,
    Settled,
)


def verification_for(administration: Administration | None) -> KeyingVerification | None:
    """The form's second keying, if it was chosen for one."""
    if administration is None:
        return None
    return KeyingVerification.objects.filter(administration=administration).first()


def verified_q(prefix: str = "") -> Q:
    """Administrations that are not waiting for verification: never chosen (keyed once,
    imported, or the patient's own answers) or verified. prefix: the path from another
    model, e.g. "administrations__"."""
    return (Q(**{f"{prefix}keying__isnull": True})
            | ~Q(**{f"{prefix}keying__status__in": UNVERIFIED_STATUSES}))


def with_verified(queryset: QuerySet[Administration]) -> QuerySet[Administration]:
    return queryset.annotate(verified=ExpressionWrapper(verified_q(), BooleanField()))


def unverified_count(queryset: QuerySet[Administration] | None = None) -> int:
    queryset = Administration.objects.all() if queryset is None else queryset
    return queryset.filter(keying__status__in=UNVERIFIED_STATUSES).count()


def unverified_ids(administration_ids) -> set[int]:
    """Which of the administrations are unverified (one query; for lists and records)."""
    return set(KeyingVerification.objects.filter(
        administration_id__in=list(administration_ids), status__in=UNVERIFIED_STATUSES)
        .values_list("administration_id", flat=True))


def clinic_keying_tasks(clinic: Clinic) -> dict[str, list[KeyingVerification]]:
    """The clinic's forms waiting for a second keying, and those with differences to
    settle, oldest first."""
    rows = (KeyingVerification.objects
            .filter(administration__patient__clinic=clinic, status__in=UNVERIFIED_STATUSES)
            .select_related("administration__patient", "first_keyer", "second_keyer")
            .order_by("selected_at", "pk"))
    tasks: dict[str, list[KeyingVerification]] = {status: [] for status in UNVERIFIED_STATUSES}
    for verification in rows:
        tasks[verification.status].append(verification)
    return tasks


# -- discrepancy rates ---------------------------------------------------------------------

@dataclass(frozen=True)
class KeyingRate:
    """Fields keyed twice and how many differed (a clinic) or were wrong (a keyer)."""

    name: str
    forms: int
    fields: int
    differences: int  # a clinic: fields that differed; a keyer: their values found wrong
    unsettled: int  # differences not yet settled against the paper

    @property
    def rate(self) -> float | None:
        return self.differences / self.fields if self.fields else None

    @property
    def percent(self) -> float | None:
        return None if self.rate is None else 100 * self.rate


def _compared() -> list[tuple[int, str, int | None, int | None, int]]:
    return list(KeyingVerification.objects.filter(second_keyed_at__isnull=False)
                .values_list("pk", "administration__patient__clinic__code", "first_keyer_id",
                             "second_keyer_id", "fields_compared"))


def discrepancy_rates() -> tuple[list[KeyingRate], list[KeyingRate]]:
    """(per clinic, per keyer), over every form keyed twice.

    A clinic's rate: fields that differed / fields compared. A keyer's: their values the
    paper proved wrong (a difference settled for the other keying) / fields they keyed in
    forms keyed twice; a difference not yet settled counts as unsettled for both keyers.
    """
    forms = _compared()
    differences: dict[int, list[str]] = defaultdict(list)
    for verification_id, settled in KeyingDiscrepancy.objects.filter(
            verification_id__in=[f[0] for f in forms]).values_list("verification_id",
                                                                     "settled"):
        differences[verification_id].append(settled)
    return _by_clinic(forms, differences), _by_keyer(forms, differences)


def _by_clinic(forms, differences) -> list[KeyingRate]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for pk, clinic, _first, _second, fields in forms:
        total = totals[clinic]
        total[0] += 1
        total[1] += fields or 0
        total[2] += len(differences[pk])
        total[3] += sum(1 for settled in differences[pk] if not settled)
    return [KeyingRate(code, *totals[code]) for code in sorted(totals)]


def _by_keyer(forms, differences) -> list[KeyingRate]:
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for pk, _clinic, first, second, fields in forms:
        for keyer, wrong_when in ((first, Settled.SECOND), (second, Settled.FIRST)):
            if keyer is None:
                continue
            total = totals[keyer]
            total[0] += 1
            total[1] += fields or 0
            total[2] += sum(1 for settled in differences[pk] if settled == wrong_when)
            total[3] += sum(1 for settled in differences[pk] if not settled)
    names = dict(get_user_model().objects.filter(pk__in=list(totals))
                 .values_list("pk", "username"))
    return sorted((KeyingRate(names.get(pk, "?"), *values) for pk, values in totals.items()),
                  key=lambda rate: rate.name)


def keying_status_counts() -> dict[str, int]:
    """How many forms are in each verification status (for the report's heading)."""
    counts = dict.fromkeys(KeyingStatus.values, 0)
    for status, count in (KeyingVerification.objects.order_by().values_list("status")
                          .annotate(count=Count("pk"))):
        counts[status] = count
    return counts
