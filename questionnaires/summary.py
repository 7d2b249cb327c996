"""Scores of a stored administration, ready to show: value, items used, and why missing;
and the questionnaire panels and status of a patient's record page.

Values are the stored ones (computed by the save service); only the reason a score is
missing is worked out again here, from the same pure scoring module.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from patients.models import Patient
from patients.worklist import STATUS_BY_CODE, FollowUpDates, Status, followup_dates, worklist_status

from .instruments import INSTRUMENTS
from .models import Administration, PihFormVersion, Timepoint
from .scoring import score, scored_answers


@dataclass(frozen=True)
class ScoreRow:
    code: str
    label: str
    instrument: str
    value: float | None
    n_answered: int | None
    n_items: int
    reason: str

    @property
    def display(self) -> str:
        # Stored at full precision; rounded to 1 decimal for display only (INSTRUMENTS.md),
        # half up as on paper (5.25 shows as 5.3, where Python's format would give 5.2).
        if self.value is None:
            return "—"
        return str(Decimal(repr(self.value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def score_rows(administration: Administration) -> list[ScoreRow]:
    """One row per scale, in instrument order."""
    answers = scored_answers(
        administration.answers,
        pih_reversed=administration.pih_form_version == PihFormVersion.REVERSED)
    rows = []
    for instrument in INSTRUMENTS:
        for scale in instrument.scales:
            value = getattr(administration, scale.code)
            reason = score(scale, answers).reason if value is None else ""
            rows.append(ScoreRow(
                code=scale.code, label=scale.label, instrument=instrument.name, value=value,
                n_answered=getattr(administration, f"{scale.code}_n"),
                n_items=scale.n_items, reason=reason))
    return rows


def administration_panels(patient: Patient) -> list[dict]:
    """One panel per timepoint: its administration (or None) and scores."""
    stored = {admin.timepoint: admin for admin in patient.administrations.all()}
    return [{"timepoint": value, "label": label, "administration": stored.get(value),
             "scores": score_rows(stored[value]) if value in stored else []}
            for value, label in Timepoint.choices]


def patient_status(patient: Patient, panels: list[dict], *, withdrawn: bool
                   ) -> tuple[Status, FollowUpDates | None]:
    """The worklist status of the patient, and the follow-up dates once baseline is done."""
    baseline, followup = (panel["administration"] for panel in panels)
    code = worklist_status(
        today=timezone.localdate(), withdrawn=withdrawn, followup_status=patient.followup_status,
        baseline_on=baseline.administered_on if baseline else None,
        baseline_complete=bool(baseline and baseline.is_complete),
        followup_complete=bool(followup and followup.is_complete))
    dates = followup_dates(baseline.administered_on) if baseline and baseline.is_complete \
        else None
    return STATUS_BY_CODE[code], dates
