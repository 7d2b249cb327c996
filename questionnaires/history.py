"""A patient's change history, from django-simple-history: who, when, field, old, new, why.

Three record types take part: the patient (consent, characteristics, follow-up status),
the withdrawal, and each administration. A creation is one row ("entered"); each later
change is one row per field that changed. Derived columns (scores, version counters,
timestamps) are left out: they follow from the fields shown.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import models
from django.utils import timezone
from django.utils.formats import date_format

from patients.characteristics import CHARACTERISTIC_CODES
from patients.models import Patient, Withdrawal

from .instruments import ITEM_CODES
from .models import Administration, Timepoint

PATIENT_FIELDS = ("study_id", "consented_on", "consent_form_version", "consent_taken_by",
                  *CHARACTERISTIC_CODES, "followup_status", "lost_reason")
WITHDRAWAL_FIELDS = ("withdrawn_on", "keep_collected_data", "reason")
# who checked is the change's author; checked_at says when
ADMINISTRATION_FIELDS = ("administered_on", "status", "source", "checked_at",
                         "pih_form_version", *ITEM_CODES)
TIMEPOINT_LABELS = dict(Timepoint.choices)


@dataclass(frozen=True)
class HistoryRow:
    when: dt.datetime
    who: str
    record: str
    field: str
    old: str
    new: str
    reason: str


def display_value(field: models.Field, value: object) -> str:
    """How a stored value reads on the history page."""
    if value is None or value == "":
        return "not answered" if field.name in ITEM_CODES else "—"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    # The site's date style in the local time zone, as the "When" column reads (issue 14:
    # a checked_at read 2026-12-07T13:08:53.675460+00:00).
    if isinstance(value, dt.datetime):
        return date_format(timezone.localtime(value), "j M Y, H:i")
    if isinstance(value, dt.date):
        return date_format(value, "j M Y")
    return str(value)


def _changed(record, before, fields: tuple[str, ...]) -> list[tuple[str, object, object]]:
    """(field name, old, new) of each of `fields` that differs between two historical
    records, in the order of `fields` (simple-history's diff sorts them by name)."""
    delta = record.diff_against(before, included_fields=fields)
    changes = {change.field: (change.old, change.new) for change in delta.changes}
    return [(name, *changes[name]) for name in fields if name in changes]


def _rows_for(records, *, model: type[models.Model], fields: tuple[str, ...], record_name,
              created_text) -> list[HistoryRow]:
    """Rows for the historical records of one model, oldest first per object."""
    rows: list[HistoryRow] = []
    previous: dict[int, object] = {}
    meta = model._meta
    for record in records:
        who = record.history_user.get_username() if record.history_user else "system"
        base = dict(when=record.history_date, who=who, record=record_name(record),
                    reason=record.history_change_reason or "")
        before = previous.get(record.id)
        previous[record.id] = record
        if before is None or record.history_type == "+":
            rows.append(HistoryRow(field="—", old="", new=created_text(record), **base))
            continue
        for name, old, new in _changed(record, before, fields):
            field = meta.get_field(name)
            rows.append(HistoryRow(field=str(field.verbose_name), old=display_value(
                field, old), new=display_value(field, new), **base))
    return rows


def patient_history(*, patient: Patient) -> list[HistoryRow]:
    """Every recorded change to the patient's data, newest first (three queries)."""
    def ordered(manager, **filters):
        return (manager.filter(**filters).select_related("history_user")
                .order_by("history_date", "history_id"))

    rows = _rows_for(
        ordered(Patient.history, id=patient.pk), model=Patient, fields=PATIENT_FIELDS,
        record_name=lambda r: "Patient", created_text=lambda r: "enrolled")
    rows += _rows_for(
        ordered(Withdrawal.history, patient_id=patient.pk), model=Withdrawal,
        fields=WITHDRAWAL_FIELDS, record_name=lambda r: "Withdrawal",
        created_text=lambda r: "withdrawal recorded")
    rows += _rows_for(
        ordered(Administration.history, patient_id=patient.pk), model=Administration,
        fields=ADMINISTRATION_FIELDS,
        record_name=lambda r: f"{TIMEPOINT_LABELS.get(r.timepoint, r.timepoint)} questionnaire",
        created_text=lambda r: f"entered ({r.status})")
    rows.sort(key=lambda row: row.when, reverse=True)
    return rows


@dataclass(frozen=True)
class OtherEdit:
    """What someone else saved since an editor loaded the form."""

    who: str
    when: dt.datetime | None
    changes: list[tuple[str, str, str]]  # (field label, value the editor saw, value now)


def changes_since(*, administration: Administration, version: int | None) -> OtherEdit:
    """Fields changed between `version` (what the editor started from) and the stored row.

    With no starting version (the editor began a new entry that someone else created
    first), every field the other person filled in is a change from nothing.
    """
    records = list(administration.history.select_related("history_user")
                   .filter(version__in=[v for v in (version, administration.version) if v])
                   .order_by("-history_date", "-history_id"))
    latest = records[0] if records else None
    started = next((r for r in records if version and r.version == version), None)
    meta = Administration._meta
    if started is not None and latest is not None:
        # the latest record is the stored row as its save left it
        changed = _changed(latest, started, ADMINISTRATION_FIELDS)
    else:
        changed = [(name, None, getattr(administration, name)) for name in ADMINISTRATION_FIELDS
                   if getattr(administration, name) is not None]
    changes = [(str(meta.get_field(name).verbose_name),
                display_value(meta.get_field(name), before),
                display_value(meta.get_field(name), now)) for name, before, now in changed]
    who = latest.history_user.get_username() if latest and latest.history_user else "someone"
    return OtherEdit(who=who, when=latest.history_date if latest else None, changes=changes)
