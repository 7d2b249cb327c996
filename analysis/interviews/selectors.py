"""Reads for the interview page: the completers, narrow, and a cheap data version.

Completers are patients with a complete baseline and a complete follow-up whose data may
be analysed (analysis.stats.cohort's rule: no withdrawal, or one that keeps the data). One
query reads what the page needs of them (characteristics and the classified scores at
both timepoints), without building the whole cohort frame; the page keeps the result in
the process until the data version changes (analysis.interviews.completers).

The data version is the newest audit-trail entry of the tables the completers come from:
every write through the application (forms, services, seed and import commands) adds
one, including deletions. It is read through primary-key indexes, so it costs the same
whatever the cohort's size.
"""
from __future__ import annotations

from django.db.models import F, FilteredRelation, Q, QuerySet, Subquery

from clinics.models import Clinic
from patients.characteristics import CHARACTERISTIC_CODES
from patients.models import Patient, Withdrawal
from questionnaires.models import Administration, AdministrationStatus, Timepoint

from .constants import CLASSIFIED_SCORES

CHARACTERISTICS = ("study_id", *CHARACTERISTIC_CODES)
TIMEPOINTS = (Timepoint.BASELINE.value, Timepoint.FOLLOWUP.value)
SCORE_COLUMNS = tuple(f"{timepoint}_{code}" for timepoint in TIMEPOINTS
                      for code in CLASSIFIED_SCORES)
COLUMNS = (*CHARACTERISTICS, "clinic", *SCORE_COLUMNS)


def _complete(timepoint: str) -> FilteredRelation:
    return FilteredRelation("administrations", condition=Q(
        administrations__timepoint=timepoint,
        administrations__status=AdministrationStatus.COMPLETE))


def completers() -> QuerySet[Patient]:
    keep = Q(withdrawal__isnull=True) | Q(withdrawal__keep_collected_data=True)
    return (Patient.objects
            .annotate(baseline=_complete(Timepoint.BASELINE),
                      followup=_complete(Timepoint.FOLLOWUP))
            .filter(keep, baseline__isnull=False, followup__isnull=False)
            .order_by())


def completer_rows() -> list[tuple]:
    """One tuple per completer, in COLUMNS order (unordered: the caller sorts)."""
    scores = {name: F(name.replace("_", "__", 1)) for name in SCORE_COLUMNS}
    return list(completers().annotate(clinic_code=F("clinic__code"), **scores)
                .values_list(*CHARACTERISTICS, "clinic_code", *SCORE_COLUMNS))


def data_version() -> tuple:
    """Newest audit-trail entry (id and time) of administrations, patients, withdrawals and
    clinics. The time tells apart test databases that reuse a rolled-back id."""
    newest = {}
    for name, model in (("administrations", Administration), ("patients", Patient),
                        ("withdrawals", Withdrawal), ("clinics", Clinic)):
        latest = model.history.order_by("-history_id")
        newest[f"{name}_id"] = Subquery(latest.values("history_id")[:1])
        newest[f"{name}_at"] = Subquery(latest.values("history_date")[:1])
    # Selected beside any one clinic: without a clinic there are no patients either.
    row = Clinic.objects.order_by().annotate(**newest).values_list(*newest)[:1]
    return tuple(next(iter(row), ()))
