"""What a cohort file holds and which cells need neutralising: shared by the Python writer
(writer.py) and the database's COPY writer (writer_sql.py), which must agree byte for
byte, so that neither imports the other."""
from __future__ import annotations

from django.db.models import QuerySet

from patients.models import Patient

from ..models import Administration, AdministrationStatus

# A text cell starting with one of these is run as a formula by a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cohort_queryset(*, patients_qs: QuerySet[Patient] | None = None,
                    include_withdrawn_excluded: bool = False,
                    include_drafts: bool = False) -> QuerySet[Administration]:
    """The administrations a cohort file holds, in file order.

    patients_qs: only these patients (e.g. `patients_for_user(user=...)`); None = all.
    include_withdrawn_excluded: also patients whose withdrawal says their data may not be
        kept (Withdrawal.keep_collected_data=False); left out by default.
    include_drafts: also draft (incomplete) administrations; by default only complete
        ones, as the analysis uses.
    """
    administrations = Administration.objects.all()
    if not include_drafts:
        administrations = administrations.filter(status=AdministrationStatus.COMPLETE)
    if patients_qs is not None:
        administrations = administrations.filter(patient__in=patients_qs)
    if not include_withdrawn_excluded:
        administrations = administrations.exclude(patient__withdrawal__keep_collected_data=False)
    # "baseline" sorts before "followup".
    return administrations.order_by("patient__study_id", "timepoint")
