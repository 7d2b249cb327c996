"""The questionnaire as the patient sees it: one part per instrument, then a review.

Pure functions over the instrument definitions and an invitation's draft (item code ->
an answer, or SKIP for an explicit "prefer not to answer").
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from questionnaires.instruments import INSTRUMENTS, ITEM_CODES, Instrument
from questionnaires.models import MissingReason

SKIP = "skip"
PARTS: tuple[Instrument, ...] = INSTRUMENTS


def part(number: int) -> Instrument | None:
    """The instrument of part `number` (1-based), or None."""
    return PARTS[number - 1] if 1 <= number <= len(PARTS) else None


def clean_part_answers(instrument: Instrument, posted: Mapping[str, str]) -> dict:
    """The posted answers of one part: an int in range, SKIP, or left out (unanswered).

    Anything else is a tampered form: refused whole.
    """
    cleaned: dict[str, int | str] = {}
    for item in instrument.items:
        value = (posted.get(item.code) or "").strip()
        if not value:
            continue
        if value == SKIP:
            cleaned[item.code] = SKIP
        elif value.isdigit() and int(value) in item.values:
            cleaned[item.code] = int(value)
        else:
            raise ValidationError(f"{item.label}: '{value[:10]}' is not one of the choices.")
    return cleaned


def draft_answers(draft: Mapping[str, object]) -> dict[str, int | None]:
    """Answers for questionnaires.services.administration_save (SKIP and gaps are None)."""
    return {code: draft[code] if isinstance(draft.get(code), int) else None
            for code in ITEM_CODES}


def draft_missing_reasons(draft: Mapping[str, object]) -> dict[str, str]:
    """Why each item without an answer has none: declined (SKIP) or left blank."""
    return {code: MissingReason.DECLINED if draft.get(code) == SKIP
            else MissingReason.NOT_ANSWERED
            for code in ITEM_CODES if not isinstance(draft.get(code), int)}


@dataclass(frozen=True)
class ReviewRow:
    code: str
    label: str
    answer: str


def review_rows(instrument: Instrument, draft: Mapping[str, object],
                wordings: Mapping[str, str]) -> list[ReviewRow]:
    def shown(code: str) -> str:
        value = draft.get(code)
        if value == SKIP:
            return "Prefer not to answer"
        return "Not answered" if value is None else str(value)

    return [ReviewRow(item.code, wordings.get(item.code) or item.label, shown(item.code))
            for item in instrument.items]


def unanswered_count(draft: Mapping[str, object]) -> int:
    return sum(1 for code in ITEM_CODES if code not in draft)


def first_unanswered_part(draft: Mapping[str, object]) -> int:
    """The part to resume at: the first with an unanswered item, else the review (0)."""
    for number, instrument in enumerate(PARTS, start=1):
        if any(code not in draft for code in instrument.item_codes):
            return number
    return 0


__all__ = ["PARTS", "SKIP", "clean_part_answers", "draft_answers",
           "draft_missing_reasons", "first_unanswered_part", "part", "review_rows"]
