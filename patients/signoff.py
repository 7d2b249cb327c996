"""Record sign-off: what may stop a record from being signed off, and what a refusal says.

A data manager signs off a patient's record when it is final; from then on every write to
it is refused in the services (patients.services.lock_for_data_change) until a data
manager unlocks it with a reason. Withdrawal of consent is the one exception: a patient's
right to withdraw cannot wait for an unlock.

Blockers: this app cannot see questionnaires (a higher app), so the checks that need them
are registered from above. A blocker takes patient ids and returns {patient id: reason}
for those it blocks; it is asked about many patients at once (a clinic's bulk sign-off
costs one query per blocker, not one per patient). questionnaires registers its checks
(drafts, unchecked patient answers, unverified keying) in its AppConfig.ready(); the
data-queries app adds "open query" the same way:

    from patients.signoff import register_sign_off_blocker

    @register_sign_off_blocker
    def open_queries(patient_ids):
        return {pk: "2 open data queries" for pk in ...}
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping

from django.core.exceptions import ValidationError
from django.utils import timezone

Blocker = Callable[[list[int]], Mapping[int, str]]

_BLOCKERS: list[Blocker] = []

SIGNED_OFF = "signed_off"


def register_sign_off_blocker(blocker: Blocker) -> Blocker:
    """Add a check that sign-off runs (once, however often the module is imported)."""
    if blocker not in _BLOCKERS:
        _BLOCKERS.append(blocker)
    return blocker


def sign_off_blockers() -> tuple[Blocker, ...]:
    return tuple(_BLOCKERS)


def blocking_reasons(patient_ids: Iterable[int]) -> dict[int, list[str]]:
    """{patient id: every reason it cannot be signed off}; patients free to sign off are
    absent."""
    ids = list(patient_ids)
    reasons: dict[int, list[str]] = {}
    if not ids:
        return reasons
    for blocker in _BLOCKERS:
        for pk, reason in blocker(ids).items():
            reasons.setdefault(pk, []).append(reason)
    return reasons


def signed_off_note(signed_off_at: dt.datetime) -> str:
    """What the pages and every refusal say about a signed-off record."""
    day = timezone.localtime(signed_off_at).date()
    return (f"Signed off on {day:%Y-%m-%d}: the record is read-only until a data manager "
            "unlocks it")


def refuse_signed_off(study_id: str, signed_off_at: dt.datetime | None) -> None:
    """Raise the refusal of a change to a signed-off record (nothing if it is open)."""
    if signed_off_at is not None:
        raise ValidationError(f"{study_id}: {signed_off_note(signed_off_at)}.",
                              code=SIGNED_OFF)
