"""Rescoring (issue 17, item 6): bring every stored score to the current scoring rules.

Each administration records the SCORING_VERSION that computed its scores. When a rule in
questionnaires/instruments.py or scoring.py changes (and the version with it),
`administrations_rescore` recomputes every administration's scores from its stored raw
answers in one transaction, with the rows locked, and saves the ones that differ (a score,
its items-used count, or the version stamp) with a history record "rescored to version X"
each. Items, dates and the optimistic-lock version are never touched: a nurse's edit in
progress stays valid, and its save scores the answers by the current rules anyway.
Nothing changed: nothing written, no history, no refit.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from core.signals import data_changed

from .instruments import SCALES
from .models import Administration, PihFormVersion
from .scoring import SCORING_VERSION, score_all

SCORE_FIELDS: tuple[str, ...] = tuple(
    name for scale in SCALES for name in (scale.code, f"{scale.code}_n"))
BATCH = 1000


@dataclass(frozen=True)
class RescoreReport:
    version: str
    checked: int            # administrations looked at
    changed: int            # administrations with at least one score changed
    values_changed: int     # scores (of SCALES) whose value or items-used count changed
    restamped: int          # administrations whose scores stay but whose version was older
    dry_run: bool

    @property
    def written(self) -> int:
        return 0 if self.dry_run else self.changed + self.restamped


def change_reason(version: str) -> str:
    return f"rescored to version {version}"


def _rescored(administration: Administration) -> int:
    """Set the current rules' scores on `administration`; how many scales changed."""
    results = score_all(administration.answers,
                        pih_reversed=administration.pih_form_version == PihFormVersion.REVERSED)
    changed = 0
    for code, result in results.items():
        if (getattr(administration, code), getattr(administration, f"{code}_n")) != (
                result.value, result.n_answered):
            changed += 1
            setattr(administration, code, result.value)
            setattr(administration, f"{code}_n", result.n_answered)
    return changed


@transaction.atomic
def administrations_rescore(*, dry_run: bool = False) -> RescoreReport:
    """Recompute every stored score by the current rules; save and audit what differs.

    dry_run: compute and report only (nothing written, the transaction rolls back).
    """
    checked = changed = values = restamped = 0
    to_save: list[Administration] = []
    now = timezone.now()
    for administration in (Administration.objects.select_for_update().order_by("pk")
                           .iterator(chunk_size=BATCH)):
        checked += 1
        scales = _rescored(administration)
        values += scales
        if scales:
            changed += 1
        elif administration.scoring_version != SCORING_VERSION:
            restamped += 1
        else:
            continue
        administration.scoring_version = SCORING_VERSION
        administration.updated_at = now
        to_save.append(administration)
    report = RescoreReport(version=SCORING_VERSION, checked=checked, changed=changed,
                           values_changed=values, restamped=restamped, dry_run=dry_run)
    if dry_run or not to_save:
        transaction.set_rollback(True)  # releases the locks; nothing was written anyway
        return report
    bulk_update_with_history(to_save, Administration,
                             [*SCORE_FIELDS, "scoring_version", "updated_at"],
                             batch_size=BATCH,
                             default_change_reason=change_reason(SCORING_VERSION))
    data_changed(reason=f"{changed + restamped} administration(s) "
                        f"{change_reason(SCORING_VERSION)}")
    return report
