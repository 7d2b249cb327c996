"""Import of a cohort CSV: validate everything (reader.py), then write all or nothing.

Patients created by an import get consent fields that say where they came from:
consented_on = the patient's baseline date (or earliest administration date),
consent_form_version = "imported", consent_taken_by = "import from <file name>".
Administrations are stored complete, scored by `services.apply_scores` (the code data
entry uses; see loader.scored), with the items' missing-data reasons the file gives
(not_answered, declined) as their missing_reasons, written in batches by loader.py (COPY
on PostgreSQL), and recorded in the audit trail with the importing user and the reason
"imported from <file name>".
"""
from __future__ import annotations

import tempfile
from array import array
from dataclasses import dataclass
from typing import TextIO

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from simple_history.utils import bulk_update_with_history

from clinics.models import Clinic
from core.signals import data_changed
from patients.characteristics import CHARACTERISTIC_CODES
from patients.models import FollowUpStatus, Patient

from ..instruments import ITEM_CODES
from ..models import Administration, AdministrationStatus, Timepoint
from .batching import batched
from .loader import analyze, insert_with_history, scored
from .reader import (
    CohortImportError,
    ErrorList,
    KnownPatient,
    PatientSummaries,
    Row,
    clinics_by_code,
    max_bytes,
    read_rows,
    validate_cohort,
)
from .signed_off import refuse_signed_off_records

IMPORTED_CONSENT_FORM_VERSION = "imported"
WRITE_BATCH = 20_000
# Rows re-read and written at a time: a batch of 70-column dicts is the import's largest
# transient (200,000 rows: peak 307 MB with batches of 20,000, 236 MB with 5,000, no slower;
# bench/README.md, "import memory").
ADMINISTRATION_BATCH = 5_000


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


def _new_patient(summaries: PatientSummaries, number: int, study_id: str, *,
                 by_id: int | None, source: str) -> dict:
    first = summaries.first(number)
    timepoints = {timepoint: on for _, timepoint, on in summaries.timepoints(number)}
    consented_on = timepoints.get(Timepoint.BASELINE) or min(timepoints.values())
    completed = Timepoint.FOLLOWUP in timepoints
    lost = summaries.lost.get(number)  # _check_patients refused lost with a follow-up
    status = (FollowUpStatus.COMPLETED if completed
              else FollowUpStatus.ACTIVE if lost is None else FollowUpStatus.LOST)
    return {
        "study_id": study_id, "clinic_id": first.clinic.pk, "consented_on": consented_on,
        "consent_form_version": IMPORTED_CONSENT_FORM_VERSION,
        "consent_taken_by": f"import from {source}"[:150], "created_by_id": by_id,
        "followup_status": status, "lost_reason": lost or "",
        **dict(zip(CHARACTERISTIC_CODES, first.characteristics, strict=True)),
    }


def _administration(row: Row, patient_id: int, by_id: int | None) -> dict:
    answers = dict(zip(ITEM_CODES, row.answers, strict=True))
    return {"patient_id": patient_id, "timepoint": row.timepoint,
            "administered_on": row.administered_on, "status": AdministrationStatus.COMPLETE,
            "pih_form_version": row.pih_form_version, "entered_by_id": by_id,
            "missing_reasons": row.missing_reasons,
            **answers, **scored(answers, row.pih_form_version)}


class _FileChanged(Exception):
    """The file read for the write is not the one validated."""


def _write(stream: TextIO, summaries: PatientSummaries, existing: dict[str, KnownPatient], *,
           clinics: dict[str, Clinic], by: AbstractBaseUser | None, source: str) -> int:
    """Write patients, administrations (the file read a second time, a batch at a time)
    and their history; return follow-ups completed."""
    reason = f"imported from {source}"
    by_id = by.pk if by is not None else None
    _check_patients(summaries, existing)
    patient_ids = array("q", [0]) * len(summaries)  # by patient number
    highest = _write_new_patients(summaries, existing, patient_ids, by_id=by_id,
                                  source=source, reason=reason)
    _write_administrations(stream, summaries, patient_ids, clinics=clinics, by_id=by_id,
                           reason=reason)
    _advance_study_id_counters(highest, by=by, reason=reason)
    return _complete_existing_followups(summaries, existing, by=by, reason=reason)


def check_patient_writable(*, study_id: str, line: int, patient: KnownPatient | None,
                           errors: ErrorList) -> None:
    """The write step's per-patient check, run for every patient of the file before
    anything is written (inside the import's transaction, so what it reads holds until
    the commit). `patient` is the database's patient, None for a new one; `line` the
    patient's first row. Add an error (line and column) for a patient the import may not
    change; none today. The place for per-patient write rules (e.g. a locked record)."""


def _check_patients(summaries: PatientSummaries, existing: dict[str, KnownPatient]) -> None:
    errors = ErrorList()
    for study_id, number in summaries.index.items():
        check_patient_writable(study_id=study_id, line=summaries.first_line(number),
                               patient=existing.get(study_id), errors=errors)
        if number in summaries.lost and summaries.has(number, Timepoint.FOLLOWUP):
            errors.add(summaries.first_line(number), "followup_status",
                       f"{study_id} is called lost, but the file has its follow-up")
    if errors:
        raise CohortImportError(errors)


def _write_new_patients(summaries: PatientSummaries, existing: dict[str, KnownPatient],
                        patient_ids: array, *, by_id: int | None, source: str,
                        reason: str) -> dict[int, int]:
    """Insert the new patients a batch at a time, fill `patient_ids` (existing patients'
    too); return each clinic's highest imported study-ID number of its own pattern."""
    for study_id, patient in existing.items():
        patient_ids[summaries.index[study_id]] = patient.pk
    new = ((number, study_id) for study_id, number in summaries.index.items()
           if study_id not in existing)
    codes = {clinic.pk: clinic.code for clinic in Clinic.objects.all()}
    highest: dict[int, int] = {}
    for batch in batched(new, WRITE_BATCH):
        values = [_new_patient(summaries, number, study_id, by_id=by_id, source=source)
                  for number, study_id in batch]
        ids = insert_with_history(Patient, values, change_reason=reason,
                                  history_user_id=by_id)
        for (number, study_id), pk, patient in zip(batch, ids, values, strict=True):
            patient_ids[number] = pk
            _note_study_id(highest, study_id, patient["clinic_id"], codes)
    return highest


def _note_study_id(highest: dict[int, int], study_id: str, clinic_id: int,
                   codes: dict[int, str]) -> None:
    prefix, _, number = study_id.rpartition("-")
    if prefix == codes.get(clinic_id) and number.isdigit():
        highest[clinic_id] = max(highest.get(clinic_id, 0), int(number))


def _write_administrations(stream: TextIO, summaries: PatientSummaries, patient_ids: array, *,
                           clinics: dict[str, Clinic], by_id: int | None,
                           reason: str) -> None:
    errors = ErrorList()
    rows = read_rows(stream, clinics, errors)
    count = 0
    for batch in batched(rows, ADMINISTRATION_BATCH):
        if errors or not all(summaries.matches(row) for row in batch):
            raise _FileChanged
        count += len(batch)
        insert_with_history(Administration,
                            [_administration(row, patient_ids[summaries.index[row.study_id]],
                                             by_id) for row in batch],
                            change_reason=reason, history_user_id=by_id)
    if errors or count != summaries.rows:
        raise _FileChanged


def _advance_study_id_counters(highest: dict[int, int], *, by: AbstractBaseUser | None,
                               reason: str) -> None:
    """Move each clinic's study-ID counter past imported IDs of its own pattern (A-017), so
    the next enrolment does not step through every imported number one query at a time."""
    for clinic in Clinic.objects.select_for_update().filter(pk__in=list(highest)):
        if clinic.next_patient_number <= highest[clinic.pk]:
            clinic.next_patient_number = highest[clinic.pk] + 1
            clinic._history_user, clinic._change_reason = by, reason
            clinic.save(update_fields=["next_patient_number"])


def _complete_existing_followups(summaries: PatientSummaries,
                                 existing: dict[str, KnownPatient], *,
                                 by: AbstractBaseUser | None, reason: str) -> int:
    """Existing patients whose follow-up arrives with the file are now completed."""
    to_complete = [patient.pk for study_id, patient in existing.items()
                   if summaries.has(summaries.index[study_id], Timepoint.FOLLOWUP)
                   and patient.followup_status != FollowUpStatus.COMPLETED]
    for pks in batched(to_complete, WRITE_BATCH):
        changed = list(Patient.objects.filter(pk__in=pks))
        for patient in changed:
            patient.followup_status, patient.lost_reason = FollowUpStatus.COMPLETED, ""
            patient._history_user = by
        bulk_update_with_history(changed, Patient, ["followup_status", "lost_reason"],
                                 batch_size=WRITE_BATCH, default_user=by,
                                 default_change_reason=f"follow-up completed ({reason})")
    return len(to_complete)


def _rewindable(stream: TextIO) -> TextIO:
    """The stream itself if it can be read again, else a temporary copy (at most one
    character past the size limit, so that the limit is still reported)."""
    if stream.seekable():
        return stream
    copy = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")
    copy.write(stream.read(max_bytes() + 1))
    copy.seek(0)
    return copy


def _file_changed_error(source: str) -> CohortImportError:
    errors = ErrorList()
    errors.add(1, "", f"{source} changed during the import; nothing was written, run the "
                      "import again")
    return CohortImportError(errors)


def import_cohort(*, stream: TextIO, source: str, by: AbstractBaseUser | None = None,
                  dry_run: bool = False) -> ImportSummary:
    """Validate the cohort CSV in `stream` and, unless dry_run, write it in one transaction.

    `source` (the file name) goes into the consent and audit-trail fields. Raises
    CohortImportError, listing every error with line and column, when anything is wrong;
    then nothing is written. A refit is requested once, after the import commits.
    """
    stream = _rewindable(stream)
    start = stream.tell()
    try:
        with transaction.atomic():
            clinics = clinics_by_code()
            summaries, existing = validate_cohort(stream, clinics)
            refuse_signed_off_records(summaries, existing)
            summary = ImportSummary(
                rows=summaries.rows, patients_created=len(summaries) - len(existing),
                patients_existing=len(existing), administrations_created=summaries.rows,
                followups_completed=0, dry_run=dry_run)
            if dry_run:
                return summary
            stream.seek(start)
            summary.followups_completed = _write(
                stream, summaries, existing, clinics=clinics, by=by, source=source)
            data_changed(reason=f"{summaries.rows} administrations imported from {source}")
    except _FileChanged:
        raise _file_changed_error(source) from None
    except IntegrityError as exc:
        # Someone saved the same patient or administration between our check and our
        # write; the transaction is rolled back, so a second run sees their data.
        errors = ErrorList()
        errors.add(1, "", f"the database changed during the import ({exc}); nothing was "
                          "written, run the import again")
        raise CohortImportError(errors) from exc
    analyze(Patient, Administration)
    return summary
