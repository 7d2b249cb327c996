"""Scoring: plain Python over a dict of answers, no database.

Implements INSTRUMENTS.md. A missing score carries the reason, so that the entry page and
the data-quality list can say why ("PPiC partnership: 6 of 11 items missing").
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .instruments import ITEMS_BY_CODE, PIH, SCALES, SCORING_VERSION, Scale


@dataclass(frozen=True)
class ScoreResult:
    code: str
    value: float | None
    n_answered: int
    n_items: int
    reason: str = ""

    @property
    def is_missing(self) -> bool:
        return self.value is None


def score(scale: Scale, answers: Mapping[str, int | None]) -> ScoreResult:
    """Return the scale's score, or a missing score that says why."""
    given = [answers[code] for code in scale.items if answers.get(code) is not None]
    n_missing = scale.n_items - len(given)
    if len(given) < scale.min_answered:
        reason = (f"{scale.label}: {n_missing} of {scale.n_items} items missing "
                  f"(needs at least {scale.min_answered} answered)")
        return ScoreResult(scale.code, None, len(given), scale.n_items, reason)
    mean = sum(given) / len(given)
    return ScoreResult(scale.code, _transform(scale, mean), len(given), scale.n_items)


def _transform(scale: Scale, mean: float) -> float:
    if scale.method == "mean":
        return mean
    if scale.method == "prorated_sum":
        return mean * scale.n_items
    item = ITEMS_BY_CODE[scale.items[0]]
    return 100 * (mean - item.minimum) / (item.maximum - item.minimum)


def scored_answers(answers: Mapping[str, int | None], *, pih_reversed: bool = False
                   ) -> dict[str, int | None]:
    """Answers as scored: an older PIH form (0 = best) is turned round as 8 - x."""
    if not pih_reversed:
        return dict(answers)
    turned = dict(answers)
    for item in PIH.items:
        if turned.get(item.code) is not None:
            turned[item.code] = item.maximum - turned[item.code]
    return turned


def score_all(answers: Mapping[str, int | None], *, pih_reversed: bool = False
              ) -> dict[str, ScoreResult]:
    """Every scale of every instrument, keyed by score code."""
    scored = scored_answers(answers, pih_reversed=pih_reversed)
    return {scale.code: score(scale, scored) for scale in SCALES}


__all__ = ["SCORING_VERSION", "ScoreResult", "score", "score_all", "scored_answers"]
