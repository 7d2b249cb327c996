"""Verified keying: the second, blind keying of a chosen form and the settling of the
fields where the two keyings differ (models in verification_models, the choice of forms
in verification_selection, reads in verification_selectors).

A settled value goes through the correction path (services.administration_save), so the
scores, the version and the audit trail follow as for any correction.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.permissions import CAN_MANAGE, has_capability
from core.signals import data_changed
from patients.services import lock_for_data_change
from patients.validators import validate_collection_open

from .instruments import ITEM_CODES, ITEMS_BY_CODE
from .models import Administration, PihFormVersion
from .services import administration_save, validate_answers
from .verification_models import (
    KeyingDiscrepancy,
    KeyingSetting,
    KeyingStatus,
    KeyingVerification,
    Settled,
)
from .verification_selection import SETTING_PK

# What the two keyings are compared on: everything a nurse keys from the paper.
COMPARED = ("administered_on", "pih_form_version", *ITEM_CODES)
FIELD_LABELS = {"administered_on": "Date completed", "pih_form_version": "PIH form version",
                **{code: f"{code}: {ITEMS_BY_CODE[code].label}" for code in ITEM_CODES}}
SAME_KEYER = "same_keyer"


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def keyed_values(administration: Administration) -> dict[str, str]:
    """The stored form as text, field by field ("" = not answered)."""
    return {name: _text(getattr(administration, name)) for name in COMPARED}


def shown_value(field: str, value: str) -> str:
    """A keyed value as the pages show it."""
    if value == "":
        return "Not answered"
    if field == "pih_form_version":
        return PihFormVersion(value).label
    return value


def first_keyers(administration: Administration, verification: KeyingVerification) -> set[int]:
    """Everyone who keyed or changed the form before its second keying."""
    users = set(Administration.history.filter(id=administration.pk)
                .values_list("history_user_id", flat=True))
    users |= {verification.first_keyer_id, administration.entered_by_id}
    return users - {None}


def may_settle(verification: KeyingVerification, user: AbstractBaseUser) -> bool:
    """One of the two keyers, or a data manager."""
    return (user.pk in (verification.first_keyer_id, verification.second_keyer_id)
            or has_capability(user, CAN_MANAGE))


def _locked_verification(administration: Administration) -> KeyingVerification:
    """Take the patient's lock (refusing a signed-off record or data left out), then the
    verification's row."""
    validate_collection_open(lock_for_data_change(administration.patient), new_data=False)
    verification = (KeyingVerification.objects.select_for_update()
                    .filter(administration_id=administration.pk).first())
    if verification is None:
        raise ValidationError("This questionnaire was not chosen for a second keying.")
    return verification


@transaction.atomic
def second_keying_submit(*, administration: Administration, administered_on: dt.date,
                         answers: Mapping[str, object], pih_form_version: str,
                         by: AbstractBaseUser) -> KeyingVerification:
    """Store a second, blind keying and list the fields that differ from the first.

    Refused for anyone who keyed or changed the form before (the second keying must be
    independent) and for a form already keyed twice. No difference: verified at once.
    """
    verification = _locked_verification(administration)
    if verification.status != KeyingStatus.AWAITING:
        raise ValidationError("This questionnaire has been keyed a second time already.")
    stored = Administration.objects.get(pk=administration.pk)
    if by.pk in first_keyers(stored, verification):
        raise ValidationError("You keyed or changed this questionnaire yourself: the second "
                              "keying must be made by another user of the clinic.",
                              code=SAME_KEYER)
    if pih_form_version not in PihFormVersion.values:
        raise ValidationError({"pih_form_version": "Choose the PIH form version."})
    second = {"administered_on": _text(administered_on), "pih_form_version": pih_form_version,
              **{code: _text(value) for code, value in
                 {**dict.fromkeys(ITEM_CODES), **validate_answers(answers)}.items()}}
    first = keyed_values(stored)
    differing = [name for name in COMPARED if first[name] != second[name]]
    for name in differing:  # a few at most, each with its history row
        discrepancy = KeyingDiscrepancy(verification=verification, field=name,
                                        first_value=first[name], second_value=second[name])
        discrepancy._history_user = by
        discrepancy.save()
    now = timezone.now()
    verification.second_keyer, verification.second_keyed_at = by, now
    verification.second_values, verification.fields_compared = second, len(COMPARED)
    verification.status = KeyingStatus.DISCREPANT if differing else KeyingStatus.VERIFIED
    verification.verified_at = None if differing else now
    verification._history_user = by
    verification.full_clean()
    verification.save()
    if verification.is_verified:
        _verified_signal(stored)
    return verification


def _verified_signal(administration: Administration) -> None:
    """A form leaving "unverified" changes an analysis that leaves unverified forms out."""
    data_changed(reason=f"{administration} verified by a second keying",
                 patient_id=administration.patient_id)


def _settled_answers(values: dict[str, str]) -> dict[str, int | None]:
    return {code: int(values[code]) if values[code] != "" else None for code in ITEM_CODES}


@transaction.atomic
def discrepancies_settle(*, administration: Administration,
                         decisions: Mapping[str, tuple[str, str]],
                         by: AbstractBaseUser) -> KeyingVerification:
    """Settle differences against the paper: decisions is {field: (Settled, reason)}.

    The values settled are saved as one correction (scores and history follow); the form
    is verified once no difference is left open. Nothing is written if any decision is
    bad.
    """
    verification = _locked_verification(administration)
    if not may_settle(verification, by):
        raise ValidationError("Only the two keyers or a data manager settle the differences.")
    open_ = {d.field: d for d in verification.discrepancies.filter(settled="")}
    _check_decisions(decisions, open_)
    stored = Administration.objects.get(pk=administration.pk)
    values = keyed_values(stored)
    for name, (choice, _reason) in decisions.items():
        values[name] = open_[name].first_value if choice == Settled.FIRST else \
            open_[name].second_value
    if values != keyed_values(stored):
        administration_save(
            patient=stored.patient, timepoint=stored.timepoint,
            administered_on=dt.date.fromisoformat(values["administered_on"]),
            answers=_settled_answers(values), by=by, complete=True,
            base_version=stored.version, pih_form_version=values["pih_form_version"],
            reason=("keying verified against the paper: " + "; ".join(
                f"{name} {reason.strip()}" for name, (_c, reason) in decisions.items()))[:200])
    _record_decisions(open_, decisions, by)
    if len(decisions) == len(open_):
        verification.status, verification.verified_at = KeyingStatus.VERIFIED, timezone.now()
        verification._history_user = by
        verification.save(update_fields=["status", "verified_at"])
        _verified_signal(stored)
    return verification


def _check_decisions(decisions: Mapping[str, tuple[str, str]],
                     open_: dict[str, KeyingDiscrepancy]) -> None:
    if not decisions:
        raise ValidationError("Choose, for at least one difference, the value on the paper.")
    errors: dict[str, str] = {}
    for name, (choice, reason) in decisions.items():
        label = FIELD_LABELS.get(name, name)
        if name not in open_:
            errors[name] = f"{label}: not a difference waiting to be settled."
        elif choice not in Settled.values:
            errors[name] = f"{label}: choose the first or the second keying."
        elif not reason.strip():
            errors[name] = f"{label}: give the reason (e.g. 'paper shows 4')."
    if errors:
        raise ValidationError(errors)


def _record_decisions(open_: dict[str, KeyingDiscrepancy],
                      decisions: Mapping[str, tuple[str, str]], by: AbstractBaseUser) -> None:
    now = timezone.now()
    for name, (choice, reason) in decisions.items():
        discrepancy = open_[name]
        discrepancy.settled, discrepancy.reason = choice, reason.strip()[:200]
        discrepancy.settled_by, discrepancy.settled_at = by, now
        discrepancy._history_user = by
        discrepancy.save()


@transaction.atomic
def keying_setting_update(*, mode: str, fraction: float, seed: str,
                          by: AbstractBaseUser) -> KeyingSetting:
    """Change the study's verified-keying rule (forms completed from now on)."""
    setting = KeyingSetting.objects.select_for_update().filter(pk=SETTING_PK).first() \
        or KeyingSetting(pk=SETTING_PK)
    setting.mode, setting.fraction, setting.seed = mode, fraction, seed.strip()
    setting.updated_by = by
    setting.full_clean()
    setting._history_user = by
    setting.save()
    return setting
