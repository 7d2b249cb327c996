"""The interview sub-sample (the study's qualitative phase): Table 3 and sampling help.

Table 3 of Fu et al. (2018) classifies each interviewee's change in pain severity and in
each PIH score as increased, unchanged or lowered, without stating the rule. The rule
here (configurable): a change no larger than `sd_fraction` (default one half) of the
score's baseline standard deviation among completers is "unchanged"; the boundary itself
counts as unchanged. Half an SD is a common threshold for a minimally important
difference (Norman, Sloan, Wyrwich 2003).

The maximum-variation helper proposes patients to invite so that the sample covers
increased, unchanged and lowered overall ability (PIH overall) and a mix of clinics and
characteristics, as the study's purposive sampling did.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from questionnaires.instruments import PIH_SCORE_CODES, SCALES_BY_CODE

INCREASED, UNCHANGED, LOWERED = "increased", "unchanged", "lowered"
CATEGORIES = (INCREASED, UNCHANGED, LOWERED)
DEFAULT_SD_FRACTION = 0.5
CLASSIFIED_SCORES: tuple[str, ...] = ("bpi_severity", *PIH_SCORE_CODES)
OVERALL = "pih_overall"
# What the proposal tries to vary, besides the change in overall ability.
MIX_ATTRIBUTES = ("clinic", "gender", "ethnicity", "education", "age_band",
                  "pain_years_group", "pain_sites_group", "change_bpi_severity")


def classify(change: float | None, threshold: float) -> str | None:
    """increased / unchanged / lowered; |change| <= threshold is unchanged; None if missing."""
    if change is None or threshold is None or (isinstance(change, float) and math.isnan(change)):
        return None
    # The boundary is unchanged; the tolerance keeps it so after float arithmetic (a change
    # computed as 40 + sd/2 - 40 may exceed sd/2 in the last bit).
    if abs(change) <= threshold + 1e-9 * max(1.0, threshold):
        return UNCHANGED
    return INCREASED if change > 0 else LOWERED


def thresholds(completers: pd.DataFrame, *, sd_fraction: float) -> dict[str, float | None]:
    """sd_fraction x the baseline SD (n - 1) of each classified score among completers."""
    result: dict[str, float | None] = {}
    for code in CLASSIFIED_SCORES:
        sd = completers[f"baseline_{code}"].std(ddof=1)
        result[code] = None if pd.isna(sd) else sd_fraction * float(sd)
    return result


def completers_frame(wide: pd.DataFrame) -> pd.DataFrame:
    """Patients with a complete baseline and follow-up (from analysis.cohort.patients_wide)."""
    return wide.loc[wide["has_baseline"] & wide["has_followup"]].reset_index(drop=True)


def age_band(age: float | None) -> str:
    if age is None or pd.isna(age):
        return ""
    low = int(age) // 15 * 15
    return f"{low}-{low + 14}"


@dataclass(frozen=True)
class Table3Row:
    study_id: str
    clinic: str
    age: int | None
    gender: str
    ethnicity: str
    education: str
    pain_years: int | None
    pain_sites: int | None
    pain_years_group: str
    pain_sites_group: str
    changes: Mapping[str, str | None]        # score code -> category
    deltas: Mapping[str, float | None]       # score code -> follow-up minus baseline

    @property
    def characteristics(self) -> list[str]:
        """Gender, ethnicity and education as labelled in Table 1 (codes in the CSV)."""
        from patients.models import Education, Ethnicity, Gender

        return [dict(choices.choices).get(value, value) for choices, value in
                ((Gender, self.gender), (Ethnicity, self.ethnicity), (Education, self.education))]

    @property
    def ordered_changes(self) -> list[str | None]:
        return [self.changes.get(code) for code in CLASSIFIED_SCORES]

    def attribute(self, name: str) -> str:
        if name == "age_band":
            return age_band(self.age)
        if name.startswith("change_"):
            return self.changes.get(name.removeprefix("change_")) or ""
        return str(getattr(self, name) or "")


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def table3(completers: pd.DataFrame, *, sd_fraction: float = DEFAULT_SD_FRACTION
           ) -> tuple[list[Table3Row], dict[str, float | None]]:
    """Every completer classified; also returns the thresholds used, by score."""
    limits = thresholds(completers, sd_fraction=sd_fraction)
    rows = []
    for record in completers.to_dict("records"):
        deltas = {code: _delta(record, code) for code in CLASSIFIED_SCORES}
        rows.append(Table3Row(
            study_id=record["study_id"], clinic=record["clinic"], age=_int(record["age"]),
            gender=record["gender"] or "", ethnicity=record["ethnicity"] or "",
            education=record["education"] or "", pain_years=_int(record["pain_years"]),
            pain_sites=_int(record["pain_sites"]),
            pain_years_group=record.get("pain_years_group") or "",
            pain_sites_group=record.get("pain_sites_group") or "",
            changes={code: classify(deltas[code], limits[code]) for code in CLASSIFIED_SCORES},
            deltas=deltas))
    return rows, limits


def _delta(record: Mapping[str, Any], code: str) -> float | None:
    before, after = record[f"baseline_{code}"], record[f"followup_{code}"]
    if before is None or after is None or pd.isna(before) or pd.isna(after):
        return None
    return float(after) - float(before)


def category_counts(rows: Iterable[Table3Row]) -> dict[str, Counter]:
    """How many increased / unchanged / lowered, by score (missing not counted)."""
    counts: dict[str, Counter] = {code: Counter() for code in CLASSIFIED_SCORES}
    for row in rows:
        for code, category in row.changes.items():
            if category:
                counts[code][category] += 1
    return counts


def max_variation(rows: Sequence[Table3Row], *, size: int,
                  already: Iterable[str] = (), exclude: Iterable[str] = ()) -> list[Table3Row]:
    """Propose `size` patients covering every overall-ability category that exists.

    Greedy and deterministic: patients already invited or interviewed are kept; then,
    while an overall category (increased, unchanged, lowered) is missing and has
    candidates, the next pick comes from it; otherwise the pick adds the most characteristic
    values not yet in the sample (clinic, gender, ethnicity, education, age band, years of
    pain, pain sites, change in pain), ties going to the least represented overall
    category and then to the study ID. Patients in `exclude` (declined) are never proposed.
    """
    excluded = set(exclude)
    kept_ids = set(already) - excluded
    chosen = [row for row in rows if row.study_id in kept_ids]
    candidates = [row for row in rows
                  if row.study_id not in kept_ids and row.study_id not in excluded
                  and row.changes.get(OVERALL)]
    while len(chosen) < size and candidates:
        pick = _next_pick(chosen, candidates)
        chosen.append(pick)
        candidates.remove(pick)
    return chosen


def _next_pick(chosen: list[Table3Row], candidates: list[Table3Row]) -> Table3Row:
    overall = Counter(row.changes.get(OVERALL) for row in chosen)
    missing = [c for c in CATEGORIES if not overall[c]
               and any(row.changes.get(OVERALL) == c for row in candidates)]
    pool = ([row for row in candidates if row.changes.get(OVERALL) == missing[0]]
            if missing else candidates)
    seen = {(name, row.attribute(name)) for row in chosen for name in MIX_ATTRIBUTES}

    def rank(row: Table3Row) -> tuple[int, int, str]:
        new = sum((name, row.attribute(name)) not in seen for name in MIX_ATTRIBUTES
                  if row.attribute(name))
        return (-new, overall[row.changes.get(OVERALL)], row.study_id)

    return min(pool, key=rank)


def score_label(code: str) -> str:
    return SCALES_BY_CODE[code].label


def interview_context(*, sd_fraction: float, proposal_size: int) -> dict[str, Any]:
    """Everything the interview page shows (two queries: the cohort, the contacts)."""
    from .cohort import load_cohort, patients_wide
    from .models import InterviewContact, InterviewStatus

    frame = load_cohort()
    completers = completers_frame(patients_wide(frame)) if len(frame) else pd.DataFrame()
    rows, limits = table3(completers, sd_fraction=sd_fraction) if len(completers) else ([], {})
    contacts = {contact.patient.study_id: contact for contact in
                InterviewContact.objects.select_related("patient").order_by("patient__study_id")}
    by_status = {status: {sid for sid, c in contacts.items() if c.status == status}
                 for status in InterviewStatus.values}
    interviewed = [row for row in rows if row.study_id in by_status[InterviewStatus.INTERVIEWED]]
    proposal = max_variation(
        rows, size=proposal_size,
        already=by_status[InterviewStatus.INVITED] | by_status[InterviewStatus.INTERVIEWED],
        exclude=by_status[InterviewStatus.DECLINED])
    return {
        "sd_fraction": sd_fraction,
        "scores": [(code, score_label(code), limits.get(code)) for code in CLASSIFIED_SCORES],
        "categories": CATEGORIES,
        "completer_count": len(rows),
        "score_summary": _summary(rows, limits),
        "table3_rows": interviewed,
        "table3_summary": _summary(interviewed, limits),
        "proposal": proposal,
        "proposal_overall": [(c, sum(r.changes.get(OVERALL) == c for r in proposal))
                             for c in CATEGORIES],
        "contacts": list(contacts.values()),
        "contact_status": {sid: c.get_status_display() for sid, c in contacts.items()},
    }


def _summary(rows: Sequence[Table3Row], limits: Mapping[str, float | None]) -> list[dict]:
    counts = category_counts(rows)
    return [{"code": code, "label": score_label(code), "limit": limits.get(code),
             "counts": [(c, counts[code][c]) for c in CATEGORIES]} for code in CLASSIFIED_SCORES]
