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

import numpy as np
import pandas as pd

from questionnaires.instruments import PIH_SCORE_CODES

from ..stats.cohort import (
    NUMBER_CHARACTERISTICS,
    PAIN_SITES_GROUPS,
    PAIN_YEARS_GROUPS,
    pain_sites_group,
    pain_years_group,
)
from ..stats.descriptives import score_label

INCREASED, UNCHANGED, LOWERED = "increased", "unchanged", "lowered"
CATEGORIES = (INCREASED, UNCHANGED, LOWERED)
DEFAULT_SD_FRACTION = 0.5
CLASSIFIED_SCORES: tuple[str, ...] = ("bpi_severity", *PIH_SCORE_CODES)
OVERALL = "pih_overall"
PAIN_SEVERITY = "bpi_severity"
YEARS_LABELS, SITES_LABELS = dict(PAIN_YEARS_GROUPS), dict(PAIN_SITES_GROUPS)
# What the proposal tries to vary, besides the change in overall ability.
MIX_ATTRIBUTES = ("clinic", "gender", "ethnicity", "education", "age_band",
                  "pain_years_group", "pain_sites_group", "change_bpi_severity")


def classify(change: float | None, threshold: float) -> str | None:
    """increased / unchanged / lowered; |change| <= threshold is unchanged; None if missing."""
    if change is None or threshold is None or (isinstance(change, float) and math.isnan(change)):
        return None
    if abs(change) <= threshold + tolerance(threshold):
        return UNCHANGED
    return INCREASED if change > 0 else LOWERED


def tolerance(threshold: float) -> float:
    """The boundary is unchanged; the tolerance keeps it so after float arithmetic (a change
    computed as 40 + sd/2 - 40 may exceed sd/2 in the last bit)."""
    return 1e-9 * max(1.0, threshold)


def classify_codes(changes: Any, threshold: float | None) -> np.ndarray:
    """classify() of every change at once, as indices into CATEGORIES (-1: missing)."""
    values = np.asarray(pd.Series(changes, dtype="float64"))
    codes = np.full(len(values), -1, dtype=np.int64)
    if threshold is None:
        return codes
    bound = threshold + tolerance(threshold)
    codes[values > bound] = CATEGORIES.index(INCREASED)
    codes[values < -bound] = CATEGORIES.index(LOWERED)
    codes[np.abs(values) <= bound] = CATEGORIES.index(UNCHANGED)
    return codes


def thresholds(completers: pd.DataFrame, *, sd_fraction: float) -> dict[str, float | None]:
    """sd_fraction x the baseline SD (n - 1) of each classified score among completers."""
    result: dict[str, float | None] = {}
    for code in CLASSIFIED_SCORES:
        sd = completers[f"baseline_{code}"].std(ddof=1)
        result[code] = None if pd.isna(sd) else sd_fraction * float(sd)
    return result


def completers_frame(wide: pd.DataFrame) -> pd.DataFrame:
    """Patients with a complete baseline and follow-up (from stats.cohort.patients_wide)."""
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

    @property
    def pain_change(self) -> str | None:
        return self.changes.get(PAIN_SEVERITY)

    @property
    def pih_changes(self) -> list[str | None]:
        """PIH domains then overall, as Table 3 lists them after the pain columns."""
        return [self.changes.get(code) for code in PIH_SCORE_CODES]

    @property
    def pain_years_label(self) -> str:
        return YEARS_LABELS.get(self.pain_years_group, "")

    @property
    def pain_sites_label(self) -> str:
        return SITES_LABELS.get(self.pain_sites_group, "")

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
    return table3_rows(completers.to_dict("records"), limits), limits


def table3_rows(records: Sequence[Mapping[str, Any]], limits: Mapping[str, float | None]
                ) -> list[Table3Row]:
    """Table 3 rows from characteristics and baseline_/followup_ scores, classified with
    the given thresholds; the pain groups are the paper's (analysis.stats.cohort's rule)."""
    if not records:
        return []
    frame = pd.DataFrame.from_records(list(records))
    years = pain_years_group(pd.to_numeric(frame["pain_years"], errors="coerce"))
    sites = pain_sites_group(pd.to_numeric(frame["pain_sites"], errors="coerce"))
    rows = []
    for record, years_group, sites_group in zip(records, years, sites, strict=True):
        deltas = {code: _delta(record, code) for code in CLASSIFIED_SCORES}
        rows.append(Table3Row(
            study_id=record["study_id"], clinic=record["clinic"], age=_int(record["age"]),
            gender=record["gender"] or "", ethnicity=record["ethnicity"] or "",
            education=record["education"] or "", pain_years=_int(record["pain_years"]),
            pain_sites=_int(record["pain_sites"]),
            pain_years_group=years_group or "", pain_sites_group=sites_group or "",
            changes={code: classify(deltas[code], limits.get(code))
                     for code in CLASSIFIED_SCORES},
            deltas=deltas))
    return rows


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
    pool = CandidatePool.build(
        [row.study_id for row in rows],
        {name: [row.attribute(name) for row in rows] for name in MIX_ATTRIBUTES},
        [row.changes.get(OVERALL) for row in rows])
    by_id = {row.study_id: row for row in rows}
    return [by_id[study_id] for study_id in pool.propose(size=size, already=already,
                                                         exclude=exclude)]


@dataclass(frozen=True)
class CandidatePool:
    """Completers as integer codes, sorted by study ID, for a vectorised greedy proposal.

    `attributes[:, j]` codes the j-th MIX_ATTRIBUTES value (-1: empty, never new);
    `overall` codes the change in overall ability by its index in CATEGORIES (-1: none).
    """
    study_ids: np.ndarray
    attributes: np.ndarray
    overall: np.ndarray

    @classmethod
    def build(cls, study_ids: Sequence[str], attributes: Mapping[str, Sequence[str]],
              overall: Sequence[str | None]) -> CandidatePool:
        order = np.argsort(np.array(study_ids, dtype=str), kind="stable")
        columns = [_codes(np.asarray(attributes[name], dtype=object)[order])
                   for name in MIX_ATTRIBUTES]
        index = {category: i for i, category in enumerate(CATEGORIES)}
        overall_codes = np.array([index.get(c, -1) for c in overall], dtype=np.int64)[order]
        return cls(np.array(study_ids, dtype=object)[order],
                   np.column_stack(columns) if columns else np.empty((len(order), 0), int),
                   overall_codes)

    def propose(self, *, size: int, already: Iterable[str] = (),
                exclude: Iterable[str] = ()) -> list[str]:
        """Study IDs in the order max_variation() picks them (its docstring has the rule)."""
        ids = pd.Index(self.study_ids)           # hashed look-ups (np.isin sorts objects)
        excluded = ids.isin(list(set(exclude)))
        kept = ids.isin(list(set(already))) & ~excluded
        chosen = [int(i) for i in np.flatnonzero(kept)]
        available = ~kept & ~excluded & (self.overall >= 0)
        seen = [np.zeros(int(column.max(initial=-1)) + 2, dtype=bool)
                for column in self.attributes.T]
        new = np.zeros(len(self.study_ids), dtype=np.int64)
        for j, column in enumerate(self.attributes.T):
            seen[j][-1] = True                      # code -1 (empty) is never new
            for value in set(column[chosen].tolist()):
                seen[j][value] = True
            new += ~seen[j][column]
        overall_counts = np.bincount(self.overall[chosen][self.overall[chosen] >= 0],
                                     minlength=len(CATEGORIES))
        while len(chosen) < size and available.any():
            pick = self._next_pick(available, new, overall_counts)
            chosen.append(pick)
            available[pick] = False
            overall_counts[self.overall[pick]] += 1
            for j, column in enumerate(self.attributes.T):
                value = column[pick]
                if not seen[j][value]:
                    seen[j][value] = True
                    new -= column == value
        return [str(self.study_ids[i]) for i in chosen]

    def _next_pick(self, available: np.ndarray, new: np.ndarray,
                   overall_counts: np.ndarray) -> int:
        missing = [c for c in range(len(CATEGORIES)) if not overall_counts[c]
                   and (available & (self.overall == c)).any()]
        pool = available & (self.overall == missing[0]) if missing else available
        # Most new values first, then the least represented category; argmax takes the
        # first of equals, which is the lowest study ID (the pool is sorted by it).
        rank = new * (len(self.study_ids) + 1) - overall_counts[self.overall]
        return int(np.argmax(np.where(pool, rank, np.iinfo(np.int64).min)))


def _codes(values: np.ndarray) -> np.ndarray:
    """Integer codes of strings; empty and missing values are -1."""
    codes, _ = pd.factorize(values)               # None and NaN are already -1
    codes[np.asarray(values == "", dtype=bool)] = -1
    return codes.astype(np.int64)


def interview_context(*, sd_fraction: float, proposal_size: int) -> dict[str, Any]:
    """Everything the interview page shows.

    Three small queries whatever the cohort's size (the data version, the contacts, the
    session's); the completers are read again only after a change to the data.
    """
    from ..models import InterviewContact, InterviewStatus

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
        "table3_summary": _summary(interviewed, limits),
        "proposal": proposal,
        "proposal_overall": [(c, sum(r.changes.get(OVERALL) == c for r in proposal))
                             for c in CATEGORIES],
        "contacts": list(contacts.values()),
        "contact_status": {sid: c.get_status_display() for sid, c in contacts.items()},
    }


STATIC_ATTRIBUTES = MIX_ATTRIBUTES[:-1]       # all but the change in pain
assert MIX_ATTRIBUTES[-1] == f"change_{PAIN_SEVERITY}"
_latest: dict[str, tuple[tuple, CompleterData]] = {}


@dataclass(frozen=True)
class CompleterData:
    """The completers as the interview page needs them, sorted by study ID: a frame of
    characteristics and baseline_/followup_ scores, the changes, and the coded
    characteristics of the proposal (those that do not depend on the rule)."""
    frame: pd.DataFrame
    deltas: Mapping[str, np.ndarray]
    static_codes: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[tuple], columns: Sequence[str]) -> CompleterData:
        frame = pd.DataFrame.from_records(list(rows), columns=list(columns))
        frame = frame.sort_values("study_id", kind="stable").reset_index(drop=True)
        numbers = [*NUMBER_CHARACTERISTICS,
                   *(name for name in frame.columns if name.startswith(("baseline_", "followup_")))]
        for name in numbers:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        deltas = {code: (frame[f"followup_{code}"] - frame[f"baseline_{code}"]).to_numpy()
                  for code in CLASSIFIED_SCORES}
        attributes = {
            "clinic": frame["clinic"], "gender": frame["gender"],
            "ethnicity": frame["ethnicity"], "education": frame["education"],
            "age_band": frame["age"].map(age_band),
            "pain_years_group": pain_years_group(frame["pain_years"]),
            "pain_sites_group": pain_sites_group(frame["pain_sites"])}
        codes = [_codes(np.asarray(attributes[name], dtype=object))
                 for name in STATIC_ATTRIBUTES]
        return cls(frame, deltas, np.column_stack(codes) if len(frame) else
                   np.empty((0, len(STATIC_ATTRIBUTES)), dtype=np.int64))

    def pool(self, limits: Mapping[str, float | None]) -> CandidatePool:
        pain = classify_codes(self.deltas[PAIN_SEVERITY], limits.get(PAIN_SEVERITY))
        return CandidatePool(self.frame["study_id"].to_numpy(dtype=object),
                             np.column_stack([self.static_codes, pain]),
                             classify_codes(self.deltas[OVERALL], limits.get(OVERALL)))

    def category_counts(self, limits: Mapping[str, float | None]) -> dict[str, dict[str, int]]:
        counts = {}
        for code in CLASSIFIED_SCORES:
            tally = np.bincount(classify_codes(self.deltas[code], limits.get(code)) + 1,
                                minlength=len(CATEGORIES) + 1)
            counts[code] = {category: int(tally[i + 1]) for i, category in enumerate(CATEGORIES)}
        return counts

    def rows(self, study_ids: Iterable[str], limits: Mapping[str, float | None]
             ) -> list[Table3Row]:
        """Table 3 rows of these completers (others are ignored), by study ID."""
        wanted = self.frame.loc[self.frame["study_id"].isin(list(study_ids))]
        return table3_rows(wanted.to_dict("records"), limits)


def completer_data() -> CompleterData:
    """The completers, read again only when the data version has changed."""
    from . import interview_selectors as select

    version = select.data_version()
    cached = _latest.get("completers")
    if cached is not None and cached[0] == version:
        return cached[1]
    data = CompleterData.from_rows(select.completer_rows(), select.COLUMNS)
    _latest["completers"] = (version, data)
    return data


def _summary(rows: Sequence[Table3Row], limits: Mapping[str, float | None]) -> list[dict]:
    return _summary_of(category_counts(rows), limits)


def _summary_of(counts: Mapping[str, Mapping[str, int]], limits: Mapping[str, float | None]
                ) -> list[dict]:
    return [{"code": code, "label": score_label(code), "limit": limits.get(code),
             "counts": [(c, counts[code][c]) for c in CATEGORIES]} for code in CLASSIFIED_SCORES]
