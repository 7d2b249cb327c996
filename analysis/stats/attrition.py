"""Who was lost to follow-up: completers against the patients lost, on every baseline measure.

The groups come from each patient's follow-up status, not from "has no follow-up row":

- completers: a complete baseline and a complete follow-up administration;
- lost: a complete baseline, no follow-up, follow-up status "lost" (the window closed);
- active: a complete baseline, no follow-up yet, still inside the follow-up window. They are
  not missing follow-up data (it is not due), so they are in neither compared group.

The paper's check of "missing completely at random" compares completers with the lost
(in the demo cohort 85 against 35), not with every baseline-only patient (62, which would
mix in the 27 not yet due).

Tests, chosen per kind of variable and named in every row:

- baseline scores (BPI, PPiC partnership, PIH): Welch's t-test, because the scores are
  interval scales whose means are the quantities the paper reports, and the two groups differ
  in size (so equal variances should not be assumed);
- age, years of pain and number of pain sites: Mann-Whitney U, because they are skewed or
  coarse counts (the paper gives age as a median);
- categories: Pearson chi-square without continuity correction (as the paper's Table 1);
  Fisher's exact test instead where an expected count is below 5, when the chi-square
  approximation is doubtful (exact for 2 x 2, Monte Carlo with a fixed seed beyond).

Each row also carries the standardised difference (lost minus completers, in pooled SDs;
for a category, per level, on proportions), which does not depend on the group sizes: with
35 patients lost a p-value above 0.05 is weak evidence of no difference.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from patients.models import Education, Ethnicity, FollowUpStatus, Gender
from questionnaires.instruments import SCALES_BY_CODE

from .cohort import PAIN_SITES_GROUPS, PAIN_YEARS_GROUPS

GROUP_LABELS = {"completers": "Completers", "lost": "Lost to follow-up",
                "active": "Still in the follow-up window"}
WELCH, MANN_WHITNEY = "Welch t-test", "Mann-Whitney U"
CHI_SQUARE, FISHER = "Pearson chi-square", "Fisher exact"
FISHER_RESAMPLES = 20_000
FISHER_SEED = 2018  # fixed: the same data give the same Monte Carlo p
SCORES = ("bpi_severity", "bpi_interference", "ppic_partnership", "pih_knowledge",
          "pih_side_effects", "pih_symptoms", "pih_adherence", "pih_overall")
RANKED = (("age", "Age (years)"), ("pain_years", "Years of pain"),
          ("pain_sites", "Number of pain sites"))
CATEGORIES: tuple[tuple[str, str, list[tuple[str, str]]], ...] = (
    ("gender", "Gender", list(Gender.choices)),
    ("ethnicity", "Ethnicity", list(Ethnicity.choices)),
    ("education", "Education", list(Education.choices)),
    ("pain_years_group", "Years of pain (groups)", PAIN_YEARS_GROUPS),
    ("pain_sites_group", "Number of pain sites (groups)", PAIN_SITES_GROUPS),
)


@dataclass(frozen=True)
class FollowUpGroups:
    """Study ids of each follow-up group (see the module docstring)."""

    completers: list[str]
    lost: list[str]
    active: list[str]

    def counts(self) -> dict[str, int]:
        return {"completers": len(self.completers), "lost": len(self.lost),
                "active": len(self.active)}


def followup_groups(patients: pd.DataFrame) -> FollowUpGroups:
    """Completers, lost and still-active patients among those with a complete baseline.

    A patient without a follow-up row whose status is anything but "active" (lost, or a
    status left at "completed" without the administration) counts as lost: the data are
    missing and no longer expected.
    """
    baseline = patients.loc[patients["has_baseline"]]
    without = baseline.loc[~baseline["has_followup"]]
    active = without["followup_status"] == FollowUpStatus.ACTIVE
    return FollowUpGroups(
        completers=baseline.loc[baseline["has_followup"], "study_id"].tolist(),
        lost=without.loc[~active, "study_id"].tolist(),
        active=without.loc[active, "study_id"].tolist())


@dataclass(frozen=True)
class Level:
    """One category of a categorical variable: counts and column percentages."""

    key: str
    label: str
    completers: int
    lost: int
    completers_percent: float | None
    lost_percent: float | None
    std_difference: float | None


@dataclass(frozen=True)
class Comparison:
    """One baseline variable compared between completers and the lost."""

    key: str
    label: str
    kind: str  # "mean_sd", "median_iqr" or "categorical"
    test: str | None  # None when there is nothing to test (a group without values)
    why: str  # why this test
    statistic: float | None
    p: float | None
    n: dict[str, int]  # patients with a value, per group
    missing: dict[str, int]
    summary: dict[str, dict[str, float | None]] = field(default_factory=dict)
    levels: list[Level] = field(default_factory=list)
    std_difference: float | None = None
    min_expected: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class AttritionComparison:
    groups: dict[str, int]  # completers, lost, active (the last compared with nobody)
    compared: tuple[str, str]
    variables: list[Comparison]
    notes: list[str]

    def to_frame(self) -> pd.DataFrame:
        """One row per variable (categorical levels folded into `levels`), for a page."""
        return pd.DataFrame([asdict(v) for v in self.variables])

    def to_dict(self) -> dict:
        return asdict(self)


def compare_completers_lost(patients: pd.DataFrame) -> AttritionComparison:
    """Every baseline characteristic and score: completers against the patients lost."""
    groups = followup_groups(patients)
    indexed = patients.set_index("study_id")
    completers, lost = indexed.loc[groups.completers], indexed.loc[groups.lost]
    notes = [f"Compared: {len(completers)} completers against {len(lost)} patients lost to "
             f"follow-up; {len(groups.active)} patients still in the follow-up window are in "
             "neither group (their follow-up is not yet due)."]
    if lost.empty or completers.empty:
        empty = "no patient lost to follow-up" if lost.empty else "no completer"
        notes.append(f"Nothing to compare: {empty}. The rows show the other group only.")
    variables = [_ranked(completers, lost, key, label) for key, label in RANKED[:1]]
    variables += [_categorical(completers, lost, key, label, choices)
                  for key, label, choices in CATEGORIES]
    variables += [_ranked(completers, lost, key, label) for key, label in RANKED[1:]]
    variables += [_mean(completers, lost, code) for code in SCORES]
    return AttritionComparison(groups=groups.counts(), compared=("completers", "lost"),
                               variables=variables, notes=notes)


def _number(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _split(completers: pd.DataFrame, lost: pd.DataFrame, column: str
           ) -> tuple[np.ndarray, np.ndarray, dict[str, int], dict[str, int]]:
    a = completers[column].dropna().to_numpy(float)
    b = lost[column].dropna().to_numpy(float)
    n = {"completers": len(a), "lost": len(b)}
    missing = {"completers": len(completers) - len(a), "lost": len(lost) - len(b)}
    return a, b, n, missing


def _pooled_sd_difference(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2 or len(b) < 2:
        return None
    pooled = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    return _number((b.mean() - a.mean()) / pooled) if pooled > 0 else None


def _mean(completers: pd.DataFrame, lost: pd.DataFrame, code: str) -> Comparison:
    a, b, n, missing = _split(completers, lost, f"baseline_{code}")
    label = ("Partnership (PPiC)" if code == "ppic_partnership"
             else SCALES_BY_CODE[code].label) + ", baseline"
    summary = {g: {"mean": _number(x.mean()) if len(x) else None,
                   "sd": _number(x.std(ddof=1)) if len(x) > 1 else None}
               for g, x in (("completers", a), ("lost", b))}
    statistic = p = None
    note = None
    if len(a) >= 2 and len(b) >= 2 and (a.var() > 0 or b.var() > 0):
        result = stats.ttest_ind(a, b, equal_var=False)
        statistic, p = _number(result.statistic), _number(result.pvalue)
    else:
        note = "Not tested: each group needs 2 values and some variation."
    return Comparison(key=f"baseline_{code}", label=label, kind="mean_sd", test=WELCH,
                      why="interval score; group sizes and variances differ",
                      statistic=statistic, p=p, n=n, missing=missing, summary=summary,
                      std_difference=_pooled_sd_difference(a, b), note=note)


def _ranked(completers: pd.DataFrame, lost: pd.DataFrame, key: str, label: str) -> Comparison:
    a, b, n, missing = _split(completers, lost, key)
    summary = {g: _quartiles(x) for g, x in (("completers", a), ("lost", b))}
    statistic = p = None
    note = None
    if len(a) and len(b) and np.ptp(np.concatenate([a, b])) > 0:
        result = stats.mannwhitneyu(a, b, alternative="two-sided")
        statistic, p = _number(result.statistic), _number(result.pvalue)
    else:
        note = "Not tested: a group without values, or every value the same."
    return Comparison(key=key, label=label, kind="median_iqr", test=MANN_WHITNEY,
                      why="skewed or coarse count; compared by ranks", statistic=statistic,
                      p=p, n=n, missing=missing, summary=summary,
                      std_difference=_pooled_sd_difference(a, b), note=note)


def _quartiles(x: np.ndarray) -> dict[str, float | None]:
    if not len(x):
        return {"median": None, "q1": None, "q3": None, "min": None, "max": None}
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3),
            "min": float(x.min()), "max": float(x.max())}


def _categorical(completers: pd.DataFrame, lost: pd.DataFrame, key: str, label: str,
                 choices: list[tuple[str, str]]) -> Comparison:
    def counts(rows: pd.DataFrame) -> np.ndarray:
        values = rows[key]
        return np.array([(values == code).sum() for code, _ in choices], dtype=float)

    table = np.column_stack([counts(completers), counts(lost)])
    totals = table.sum(axis=0)
    n = {"completers": int(totals[0]), "lost": int(totals[1])}
    missing = {"completers": len(completers) - n["completers"], "lost": len(lost) - n["lost"]}
    levels = [_level(code, str(text), table[i], totals) for i, (code, text) in
              enumerate(choices)]
    test, statistic, p, min_expected, note = category_test(table)
    why = ("expected counts all 5 or more" if test == CHI_SQUARE else
           "an expected count below 5: the chi-square approximation is doubtful")
    return Comparison(key=key, label=label, kind="categorical", test=test, why=why,
                      statistic=statistic, p=p, n=n, missing=missing, levels=levels,
                      min_expected=min_expected, note=note)


def _level(code: str, label: str, row: np.ndarray, totals: np.ndarray) -> Level:
    share = [row[j] / totals[j] if totals[j] else None for j in range(2)]
    difference = None
    if None not in share:
        pooled = np.sqrt((share[0] * (1 - share[0]) + share[1] * (1 - share[1])) / 2)
        difference = _number((share[1] - share[0]) / pooled) if pooled > 0 else None
    return Level(key=code, label=label, completers=int(row[0]), lost=int(row[1]),
                 completers_percent=None if share[0] is None else 100 * share[0],
                 lost_percent=None if share[1] is None else 100 * share[1],
                 std_difference=difference)


def category_test(table: np.ndarray
                  ) -> tuple[str | None, float | None, float | None, float | None, str | None]:
    """(test, statistic, p, smallest expected count, note) for a categories x groups table.

    Empty categories are dropped first (they carry no information and would give an
    expected count of 0).
    """
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return None, None, None, None, "Not tested: a single category or a single group."
    expected = stats.contingency.expected_freq(table)
    if (expected >= 5).all():
        result = stats.chi2_contingency(table, correction=False)
        return CHI_SQUARE, _number(result.statistic), _number(result.pvalue), \
            float(expected.min()), None
    if table.shape == (2, 2):
        result = stats.fisher_exact(table)
        return FISHER, _number(result.statistic), _number(result.pvalue), \
            float(expected.min()), None
    method = stats.MonteCarloMethod(n_resamples=FISHER_RESAMPLES,
                                    rng=np.random.default_rng(FISHER_SEED))
    result = stats.fisher_exact(table.astype(int), method=method)
    return FISHER, None, _number(result.pvalue), float(expected.min()), \
        f"Monte Carlo Fisher exact ({FISHER_RESAMPLES:,} tables, seed {FISHER_SEED})"
