"""Import of a cohort CSV: validate everything (reader.py), then write all or nothing.

Patients created by an import get consent fields that say where they came from:
consented_on = the patient's baseline date (or earliest administration date),
consent_form_version = "imported", consent_taken_by = "import from <file name>".
Administrations are stored complete, scored by `services.apply_scores` (the code data
entry uses; see loader.scored), written in batches by loader.py (COPY on PostgreSQL), and
recorded in the audit trail with the importing user and the reason "imported from <file
name>".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from simple_history.utils import bulk_update_with_history

from analysis.refit import refit_request_after_commit
from clinics.models import Clinic
from patients.characteristics import CHARACTERISTIC_CODES
from patients.models import FollowUpStatus, Patient

from ..instruments import ITEM_CODES
from ..models import Administration, AdministrationStatus, PihFormVersion, Timepoint
from .batching import batched
from .loader import analyze, insert_with_history, scored
from .reader import CohortImportError, ErrorList, Row, validate_cohort

IMPORTED_CONSENT_FORM_VERSION = "imported"
WRITE_BATCH = 20_000


@dataclass
class ImportSummary:
    """What an import wrote (or, for a dry run, would write)."""

    rows: int
    patients_created: int
    patients_existing: int
    administrations_created: int
    followups_completed: int
    dry_run: bool

    def __str__(self) -> str:
        verb = "would create" if self.dry_run else "created"
        return (f"{self.rows} rows: {verb} {self.patients_created} patients and "
                f"{self.administrations_created} administrations "
                f"({self.patients_existing} patients already in the database; "
                f"{self.followups_completed} follow-ups completed).")


def _new_patient(rows: list[Row], *, by_id: int | None, source: str) -> dict:
    first = rows[0]
    timepoints = {row.timepoint: row.administered_on for row in rows}
    consented_on = timepoints.get(Timepoint.BASELINE) or min(timepoints.values())
    completed = Timepoint.FOLLOWUP in timepoints
    return {
        "study_id": first.study_id, "clinic_id": first.clinic.pk, "consented_on": consented_on,
        "consent_form_version": IMPORTED_CONSENT_FORM_VERSION,
        "consent_taken_by": f"import from {source}"[:150], "created_by_id": by_id,
        "followup_status": FollowUpStatus.COMPLETED if completed else FollowUpStatus.ACTIVE,
        **dict(zip(CHARACTERISTIC_CODES, first.characteristics, strict=True)),
    }


def _administration(row: Row, patient_id: int, by_id: int | None) -> dict:
    answers = dict(zip(ITEM_CODES, row.answers, strict=True))
    return {"patient_id": patient_id, "timepoint": row.timepoint,
            "administered_on": row.administered_on, "status": AdministrationStatus.COMPLETE,
            "pih_form_version": PihFormVersion.CURRENT, "entered_by_id": by_id,
            **answers, **scored(answers, PihFormVersion.CURRENT)}


def _write(rows: list[Row], by_patient: dict[str, list[Row]], existing: dict[str, Patient], *,
           by: AbstractBaseUser | None, source: str) -> int:
    """Write patients, administrations and their history; return follow-ups completed."""
    reason = f"imported from {source}"
    by_id = by.pk if by is not None else None
    patient_ids = {study_id: patient.pk for study_id, patient in existing.items()}
    new = [(study_id, _new_patient(patient_rows, by_id=by_id, source=source))
           for study_id, patient_rows in by_patient.items() if study_id not in existing]
    for batch in batched(new, WRITE_BATCH):
        ids = insert_with_history(Patient, [values for _, values in batch],
                                  change_reason=reason, history_user_id=by_id)
        patient_ids.update(zip((study_id for study_id, _ in batch), ids, strict=True))
    for batch in batched(rows, WRITE_BATCH):
        insert_with_history(Administration,
                            [_administration(row, patient_ids[row.study_id], by_id)
                             for row in batch],
                            change_reason=reason, history_user_id=by_id)
    _advance_study_id_counters(new, by=by, reason=reason)
    return _complete_existing_followups(by_patient, existing, by=by, reason=reason)


def _advance_study_id_counters(new: list[tuple[str, dict]], *, by: AbstractBaseUser | None,
                               reason: str) -> None:
    """Move each clinic's study-ID counter past imported IDs of its own pattern (A-017), so
    the next enrolment does not step through every imported number one query at a time."""
    highest: dict[int, int] = {}
    codes = {clinic.pk: clinic.code for clinic in Clinic.objects.all()}
    for study_id, values in new:
        prefix, _, number = study_id.rpartition("-")
        if prefix == codes.get(values["clinic_id"]) and number.isdigit():
            clinic_id = values["clinic_id"]
            highest[clinic_id] = max(highest.get(clinic_id, 0), int(number))
    for clinic in Clinic.objects.select_for_update().filter(pk__in=list(highest)):
        if clinic.next_patient_number <= highest[clinic.pk]:
            clinic.next_patient_number = highest[clinic.pk] + 1
            clinic._history_user, clinic._change_reason = by, reason
            clinic.save(update_fields=["next_patient_number"])


def _complete_existing_followups(by_patient: dict[str, list[Row]],
                                 existing: dict[str, Patient], *, by: AbstractBaseUser | None,
                                 reason: str) -> int:
    """Existing patients whose follow-up arrives with the file are now completed."""
    changed = []
    for study_id, patient in existing.items():
        has_followup = any(row.timepoint == Timepoint.FOLLOWUP for row in by_patient[study_id])
        if has_followup and patient.followup_status != FollowUpStatus.COMPLETED:
            patient.followup_status, patient.lost_reason = FollowUpStatus.COMPLETED, ""
            patient._history_user = by
            changed.append(patient)
    if changed:
        bulk_update_with_history(changed, Patient, ["followup_status", "lost_reason"],
                                 batch_size=WRITE_BATCH, default_user=by,
                                 default_change_reason=f"follow-up completed ({reason})")
    return len(changed)


def import_cohort(*, stream: TextIO, source: str, by: AbstractBaseUser | None = None,
                  dry_run: bool = False) -> ImportSummary:
    """Validate the cohort CSV in `stream` and, unless dry_run, write it in one transaction.

    `source` (the file name) goes into the consent and audit-trail fields. Raises
    CohortImportError, listing every error with line and column, when anything is wrong;
    then nothing is written. A refit is requested once, after the import commits.
    """
    try:
        with transaction.atomic():
            rows, by_patient, existing = validate_cohort(stream)
            summary = ImportSummary(
                rows=len(rows), patients_created=len(by_patient) - len(existing),
                patients_existing=len(existing), administrations_created=len(rows),
                followups_completed=0, dry_run=dry_run)
            if dry_run:
                return summary
            summary.followups_completed = _write(
                rows, by_patient, existing, by=by, source=source)
            refit_request_after_commit(reason=f"{len(rows)} administrations imported "
                                              f"from {source}")
    except IntegrityError as exc:
        # Someone saved the same patient or administration between our check and our
        # write; the transaction is rolled back, so a second run sees their data.
        errors = ErrorList()
        errors.add(1, "", f"the database changed during the import ({exc}); nothing was "
                          "written, run the import again")
        raise CohortImportError(errors) from exc
    analyze(Patient, Administration)
    return summary
