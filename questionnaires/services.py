"""Writes to administrations: answers and their scores are stored in one transaction."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from core.signals import data_changed
from patients.models import Patient, Withdrawal
from patients.services import lock_for_data_change, patient_mark_followup_completed
from patients.validators import validate_collection_open

from . import dates
from .instruments import ITEM_CODES, ITEMS_BY_CODE
from .models import (
    Administration,
    AdministrationSource,
    AdministrationStatus,
    MissingReason,
    PihFormVersion,
    Timepoint,
)
from .scoring import SCORING_VERSION, score_all
from .verification_selection import verification_start


class StaleEditError(Exception):
    """Someone else saved the administration after this edit began."""

    def __init__(self, current: Administration, changes: list[tuple[str, object, object]]):
        self.current = current
        self.changes = changes  # (field, value now stored, value this editor submitted)
        super().__init__("This administration was changed by someone else while you edited it.")


def validate_answers(answers: Mapping[str, object]) -> dict[str, int | None]:
    """Return answers as ints (None = not answered), or raise naming every bad item."""
    errors: dict[str, str] = {}
    cleaned: dict[str, int | None] = {}
    for code, value in answers.items():
        item = ITEMS_BY_CODE.get(code)
        if item is None:
            errors[code] = f"Unknown item {code}."
            continue
        if value is None or value == "":
            cleaned[code] = None
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            errors[code] = f"{item.label}: '{value}' is not a whole number."
            continue
        if str(number) != str(value).strip() and not isinstance(value, int):
            errors[code] = f"{item.label}: '{value}' is not a whole number."
        elif not item.minimum <= number <= item.maximum:
            errors[code] = f"{item.label}: {number} is outside {item.minimum}-{item.maximum}."
        else:
            cleaned[code] = number
    if errors:
        raise ValidationError(errors)
    return cleaned


# What data entry says when a date breaks a rule of questionnaires.dates.
_DATE_MESSAGES = {
    dates.BEFORE_CONSENT: "The questionnaire cannot be dated before consent.",
    dates.IN_FUTURE: "The date cannot be in the future.",
    dates.NO_BASELINE: "Enter the baseline before the follow-up.",
    dates.FOLLOWUP_NOT_AFTER_BASELINE: "The follow-up must be dated after the baseline.",
}


def _check_dates(*, patient: Patient, timepoint: str, administered_on: dt.date,
                 other: dt.date | None) -> None:
    """other: the date of the patient's administration at the other timepoint, if any."""
    problems = dates.date_problems(timepoint=timepoint, administered_on=administered_on,
                                   consented_on=patient.consented_on, other_on=other,
                                   today=timezone.localdate())
    if problems:
        first = problems[0]
        raise ValidationError({dates.FIELDS[first]: _DATE_MESSAGES[first]})


def _missing_reasons(given: Mapping[str, str] | None, existing: Administration | None,
                     values: Mapping[str, object]) -> dict[str, str]:
    """Why each still-empty item is empty: the reasons given now, else those stored before.

    An item answered since (a nurse's correction) loses its reason.
    """
    reasons = dict(existing.missing_reasons if existing is not None else {})
    if given is not None:
        unknown = set(given.values()) - set(MissingReason.values)
        if unknown or set(given) - set(ITEM_CODES):
            raise ValidationError({"missing_reasons": "Unknown item or missing-item reason."})
        reasons = dict(given)
    return {code: reason for code, reason in sorted(reasons.items()) if values[code] is None}


def apply_scores(administration: Administration) -> None:
    """Compute every score from the stored raw answers (never typed in)."""
    results = score_all(administration.answers,
                        pih_reversed=administration.pih_form_version == PihFormVersion.REVERSED)
    for code, result in results.items():
        setattr(administration, code, result.value)
        setattr(administration, f"{code}_n", result.n_answered)
    administration.scoring_version = SCORING_VERSION


def _changes(before: Administration, after_values: Mapping[str, object]
             ) -> list[tuple[str, object, object]]:
    return [(name, getattr(before, name), value) for name, value in after_values.items()
            if getattr(before, name) != value]


@dataclass(frozen=True)
class LockedEntry:
    """What a save needs to read under the patient's row lock, read once and passed down."""
    withdrawal: Withdrawal | None
    administrations: Mapping[str, Administration]  # timepoint -> stored administration


def lock_for_entry(patient: Patient) -> LockedEntry:
    """Lock the patient's row (refused when signed off) and read their withdrawal and
    administrations under the lock. Call it inside the transaction that saves: the entry
    page validates its form against these and hands them to administration_save."""
    if not connection.in_atomic_block:
        raise RuntimeError("lock_for_entry outside a transaction: the lock would not hold.")
    withdrawal = lock_for_data_change(patient)
    stored = {admin.timepoint: admin for admin in Administration.objects.filter(patient=patient)}
    return LockedEntry(withdrawal=withdrawal, administrations=stored)


@transaction.atomic
def administration_save(*, patient: Patient, timepoint: str, administered_on: dt.date,
                        answers: Mapping[str, object], by: AbstractBaseUser | None,
                        complete: bool, base_version: int | None = None, reason: str = "",
                        pih_form_version: str = PihFormVersion.CURRENT,
                        source: str = AdministrationSource.NURSE,
                        missing_reasons: Mapping[str, str] | None = None,
                        locked: LockedEntry | None = None) -> Administration:
    """Validate, store the answers and their scores in one transaction.

    source: who filled in the answers (a nurse keying paper, or the patient on a tablet or
    from a link). A nurse's later correction keeps the source the answers came from.

    base_version is the version the editor started from (None for a new entry). A save
    based on an older version is refused with StaleEditError, never applied silently.
    missing_reasons: item code -> MissingReason for the items the patient left empty
    (None keeps the stored reasons of the items still empty).
    locked: lock_for_entry's answer, taken in the caller's transaction (the entry page
    has read it to validate its form); None locks and reads here.
    A repeated identical submission (a double click) returns the stored record unchanged.
    After a withdrawal of consent nothing new is stored (patients.validators); nothing at
    all on a signed-off record (patients.signoff).
    """
    if timepoint not in Timepoint.values:
        raise ValidationError({"timepoint": f"Unknown timepoint '{timepoint}'."})
    if source not in AdministrationSource.values:
        raise ValidationError({"source": f"Unknown source '{source}'."})
    cleaned = validate_answers(answers)
    values = {**dict.fromkeys(ITEM_CODES), **cleaned, "administered_on": administered_on,
              "pih_form_version": pih_form_version,
              "status": AdministrationStatus.COMPLETE if complete else AdministrationStatus.DRAFT}
    if source != AdministrationSource.NURSE:
        # The patient's own answers: a nurse checks them again, whatever was there before.
        values.update(source=source, checked_by=None, checked_at=None)
    # Lock the patient row: concurrent saves for one patient (two nurses, a double click)
    # queue here instead of racing to insert the same administration twice.
    locked = locked or lock_for_entry(patient)
    withdrawal, stored = locked.withdrawal, dict(locked.administrations)
    existing = stored.pop(timepoint, None)
    # After a withdrawal: no new administration; a correction only if the data stay.
    validate_collection_open(withdrawal, new_data=existing is None)
    other = next(iter(stored.values()), None)
    _check_dates(patient=patient, timepoint=timepoint, administered_on=administered_on,
                 other=other.administered_on if other else None)
    values["missing_reasons"] = _missing_reasons(missing_reasons, existing, values)
    newly_complete = complete and (existing is None or not existing.is_complete)
    if existing is None:
        administration = Administration(patient=patient, timepoint=timepoint, entered_by=by)
    else:
        changes = _changes(existing, values)
        if not changes:
            return existing  # identical resubmission: nothing to do, nothing duplicated
        if base_version is None or base_version != existing.version:
            raise StaleEditError(existing, changes)
        if existing.is_complete and not reason.strip():
            raise ValidationError({"reason": "Give a reason for changing a completed "
                                             "administration."})
        administration = existing
        administration.version += 1
    for name, value in values.items():
        setattr(administration, name, value)
    apply_scores(administration)
    # Constraints are not re-checked here: Django would run one query per item-range check
    # (34 of them, most of a save's time), and each is already enforced above (items by
    # validate_answers, timepoint and status by this function) and again by the database.
    # Nor are the foreign keys (a query each): the patient row is the one just locked, and
    # the enterer is the signed-in user or the stored row's (the database checks both).
    administration.full_clean(exclude=["patient", "entered_by"], validate_unique=False,
                              validate_constraints=False)
    administration._history_user = by
    administration._change_reason = reason.strip()
    administration.save()
    if newly_complete:
        verification_start(administration=administration, by=by)  # chosen for a 2nd keying?
    # A withdrawn patient stays lost (withdrew): a correction is not a follow-up.
    if complete and timepoint == Timepoint.FOLLOWUP and withdrawal is None:
        patient_mark_followup_completed(patient=patient, by=by)
    data_changed(reason=f"{patient.study_id} {timepoint} saved", patient_id=patient.pk)
    return administration


@transaction.atomic
def administration_confirm(*, administration: Administration,
                           by: AbstractBaseUser) -> Administration:
    """A nurse has checked a patient-completed administration (tablet or link).

    Confirming twice keeps the first check; a nurse-keyed administration needs none.
    Refused on a signed-off record, as every change is.
    """
    lock_for_data_change(administration.patient)
    locked = Administration.objects.select_for_update().get(pk=administration.pk)
    if locked.source == AdministrationSource.NURSE:
        raise ValidationError("This questionnaire was keyed by a nurse: there is nothing to "
                              "confirm.")
    if locked.checked_at is not None:
        return locked
    locked.checked_by = by
    locked.checked_at = timezone.now()
    locked._history_user = by
    locked._change_reason = f"checked ({locked.get_source_display().lower()})"
    locked.save(update_fields=["checked_by", "checked_at", "updated_at"])
    return locked
