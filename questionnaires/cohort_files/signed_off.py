"""The import's refusal to add rows to a signed-off record (patients.signoff).

Called by the importer's write step, inside its transaction, before anything is written:
it locks the rows of the patients already in the database that the file adds to (as
every save locks its patient's row), so a sign-off cannot commit between this check and
the write; a sign-off in progress is waited for and then seen.
"""
from __future__ import annotations

from patients.models import Patient
from patients.signoff import signed_off_note

from .batching import batched
from .reader import QUERY_CHUNK, CohortImportError, ErrorList, KnownPatient, PatientSummaries


def signed_off_errors(summaries: PatientSummaries, existing: dict[str, KnownPatient]
                      ) -> ErrorList:
    """An error on every line of the file that adds to a signed-off record."""
    errors = ErrorList()
    for chunk in batched(sorted(patient.pk for patient in existing.values()), QUERY_CHUNK):
        signed_off = (Patient.objects.select_for_update().filter(pk__in=chunk)
                      .order_by("pk").values_list("study_id", "signed_off_at"))
        for study_id, signed_off_at in list(signed_off):
            if signed_off_at is None:
                continue
            for line, _timepoint, _on in summaries.timepoints(summaries.index[study_id]):
                errors.add(line, "study_id", f"{study_id}: {signed_off_note(signed_off_at)}; "
                                             "no rows can be imported into it")
    return errors


def refuse_signed_off_records(summaries: PatientSummaries,
                              existing: dict[str, KnownPatient]) -> None:
    """Raise CohortImportError naming each line that adds to a signed-off record."""
    errors = signed_off_errors(summaries, existing)
    if errors:
        raise CohortImportError(errors)
