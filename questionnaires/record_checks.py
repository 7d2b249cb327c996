"""What stops a record from being signed off, as far as its questionnaires go.

Registered with patients.signoff in QuestionnairesConfig.ready() (patients cannot import
this app). Each check asks about many patients in one query.
"""
from __future__ import annotations

from django.db.models import Count, Q

from patients.models import Patient
from patients.signoff import register_sign_off_blocker

from .models import AdministrationSource, AdministrationStatus
from .verification_models import UNVERIFIED_STATUSES, KeyingVerification


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


@register_sign_off_blocker
def unfinished_questionnaires(patient_ids: list[int]) -> dict[int, str]:
    """No questionnaire yet, a draft, or a patient's own answers not yet checked."""
    rows = (Patient.objects.filter(pk__in=patient_ids)
            .annotate(total=Count("administrations"),
                      drafts=Count("administrations", filter=Q(
                          administrations__status=AdministrationStatus.DRAFT)),
                      unchecked=Count("administrations", filter=~Q(
                          administrations__source=AdministrationSource.NURSE)
                          & Q(administrations__checked_at__isnull=True)))
            .filter(Q(total=0) | Q(drafts__gt=0) | Q(unchecked__gt=0))
            .values_list("pk", "total", "drafts", "unchecked"))
    blocked: dict[int, str] = {}
    for pk, total, drafts, unchecked in rows:
        parts = []
        if not total:
            parts.append("no questionnaire entered")
        if drafts:
            parts.append(_plural(drafts, "questionnaire is a draft", "questionnaires are drafts"))
        if unchecked:
            parts.append(_plural(unchecked, "patient-completed questionnaire awaits a "
                                 "nurse's check", "patient-completed questionnaires await a "
                                 "nurse's check"))
        blocked[pk] = "; ".join(parts)
    return blocked


@register_sign_off_blocker
def unverified_keying(patient_ids: list[int]) -> dict[int, str]:
    """A form chosen for verified keying that is not verified yet."""
    rows = (KeyingVerification.objects
            .filter(administration__patient_id__in=patient_ids,
                    status__in=UNVERIFIED_STATUSES)
            .order_by().values_list("administration__patient_id")
            .annotate(count=Count("pk")))
    return {pk: _plural(count, "questionnaire is unverified (second keying or differences "
                               "to settle)", "questionnaires are unverified (second keying "
                               "or differences to settle)")
            for pk, count in rows}
