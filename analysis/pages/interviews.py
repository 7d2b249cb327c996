"""The interview page's context: Table 3, the category counts and the proposal.

The rule and the proposal are analysis/interviews/ (classify, proposal); this module
only puts together what the page shows.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from questionnaires.instruments import PIH_SCORE_CODES

from ..interviews.classify import category_counts, thresholds
from ..interviews.completers import completer_data
from ..interviews.constants import CATEGORIES, CLASSIFIED_SCORES, OVERALL
from ..models import InterviewContact, InterviewStatus
from ..stats.descriptives import score_label


def interview_context(*, sd_fraction: float, proposal_size: int) -> dict[str, Any]:
    """Everything the interview page shows.

    Three small queries whatever the cohort's size (the data version, the contacts, the
    session's); the completers are read again only after a change to the data.
    """
    data = completer_data()
    contacts = {contact.patient.study_id: contact for contact in
                InterviewContact.objects.select_related("patient").order_by("patient__study_id")}
    by_status = {status: {sid for sid, c in contacts.items() if c.status == status}
                 for status in InterviewStatus.values}
    limits = thresholds(data.frame, sd_fraction=sd_fraction) if len(data.frame) else {}
    proposal_ids = data.pool(limits).propose(
        size=proposal_size,
        already=by_status[InterviewStatus.INVITED] | by_status[InterviewStatus.INTERVIEWED],
        exclude=by_status[InterviewStatus.DECLINED])
    shown = {row.study_id: row for row in data.rows(
        set(proposal_ids) | by_status[InterviewStatus.INTERVIEWED], limits)}
    proposal = [shown[study_id] for study_id in proposal_ids]
    interviewed = [row for study_id, row in shown.items()
                   if study_id in by_status[InterviewStatus.INTERVIEWED]]
    return {
        "sd_fraction": sd_fraction,
        "scores": [(code, score_label(code), limits.get(code)) for code in CLASSIFIED_SCORES],
        "pih_scores": [(code, score_label(code)) for code in PIH_SCORE_CODES],
        "categories": CATEGORIES,
        "completer_count": len(data.frame),
        "score_summary": _summary_of(data.category_counts(limits), limits),
        "table3_rows": interviewed,
        "table3_summary": _summary_of(category_counts(interviewed), limits),
        "proposal": proposal,
        "proposal_overall": [(c, sum(r.changes.get(OVERALL) == c for r in proposal))
                             for c in CATEGORIES],
        "contacts": list(contacts.values()),
        "contact_status": {sid: c.get_status_display() for sid, c in contacts.items()},
    }


def _summary_of(counts: Mapping[str, Mapping[str, int]], limits: Mapping[str, float | None]
                ) -> list[dict]:
    return [{"code": code, "label": score_label(code), "limit": limits.get(code),
             "counts": [(c, counts[code][c]) for c in CATEGORIES]} for code in CLASSIFIED_SCORES]
