"""Scores of a stored administration, ready to show: value, items used, and why missing.

Values are the stored ones (computed by the save service); only the reason a score is
missing is worked out again here, from the same pure scoring module.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .instruments import INSTRUMENTS
from .models import Administration, PihFormVersion
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
