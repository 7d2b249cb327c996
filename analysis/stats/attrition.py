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


# --- inverse probability of completion weights -----------------------------------------------
#
# The second approach to the loss to follow-up (beside multiple imputation): the completers
# are weighted by 1 / P(completion | baseline), so that they stand for the lost patients like
# them. The completion model is a logistic regression among the completers and the lost on
# the Table 2 characteristics, baseline pain severity, partnership and PIH overall, and
# clinic. fit_nested takes no weights, so the weighted models are weighted least squares with
# clinic as fixed effects (three clinics: a clinic variance is hardly estimable anyway) and
# standard errors robust to the clustering of each patient's two rows (the CR1 sandwich,
# statsmodels' cov_type="cluster", t with patients - 1 df). The weights are treated as known,
# which is conservative for estimated propensity weights (Lunceford & Davidian 2004). The
# same estimator unweighted is given beside it, so that the page shows what the weights do.

COMPLETION_SCORES = ("baseline_bpi_severity", "baseline_ppic_partnership",
                     "baseline_pih_overall")
# Table 2's patient-level dummies (regression.COVARIATES without baseline severity, a score
# here) and the categories that define them; the imputation models use them too.
COVARIATE_DUMMIES = (("gender", "female"), ("gender", "other"),
                     ("ethnicity", "white_british"), ("education", "below_a_level"),
                     ("education", "a_level_or_above"), ("pain_years_group", "5to7"),
                     ("pain_years_group", "ge8"), ("pain_sites_group", "2"),
                     ("pain_sites_group", "ge3"))
CHARACTERISTICS = ("age", "gender", "ethnicity", "education", "pain_years_group",
                   "pain_sites_group")
LOGIT_MAX_ITERATIONS, LOGIT_TOLERANCE = 50, 1e-10
SEPARATION_PROBABILITY = 1e-6  # a fitted probability this close to 0 or 1: separation


def recorded(rows: pd.DataFrame, columns) -> np.ndarray:
    """Rows with every one of `columns` given (not NaN, not empty)."""
    return np.logical_and.reduce([(rows[c].notna() & (rows[c] != "")).to_numpy()
                                  for c in columns])


def baseline_design(rows: pd.DataFrame, clinics: list[str]) -> tuple[np.ndarray, list[str]]:
    """Intercept, age, the Table 2 dummies and clinic dummies (first clinic the reference)."""
    columns = {"intercept": np.ones(len(rows)), "age": rows["age"].to_numpy(float)}
    for variable, level in COVARIATE_DUMMIES:
        columns[f"{variable}={level}"] = (rows[variable] == level).to_numpy(float)
    for clinic in clinics[1:]:
        columns[f"clinic={clinic}"] = (rows["clinic"] == clinic).to_numpy(float)
    return np.column_stack(list(columns.values())), list(columns)


@dataclass(frozen=True)
class LogitFit:
    coef: np.ndarray
    se: np.ndarray
    names: list[str]
    loglik: float
    iterations: int
    converged: bool


def fit_logit(x: np.ndarray, y: np.ndarray, names: list[str]) -> LogitFit:
    """Maximum likelihood logistic regression by Newton-Raphson with step halving."""
    beta = np.zeros(x.shape[1])

    def loglik(b: np.ndarray) -> float:
        eta = x @ b
        return float(y @ eta - np.logaddexp(0, eta).sum())

    current, converged, iterations = loglik(beta), False, 0
    while iterations < LOGIT_MAX_ITERATIONS and not converged:
        iterations += 1
        p = expit(x @ beta)
        hessian = x.T @ (x * (p * (1 - p))[:, None])
        step = np.linalg.solve(hessian, x.T @ (y - p))
        for _ in range(30):  # halve the step until the likelihood does not fall
            candidate = loglik(beta + step)
            if candidate >= current - 1e-12:
                break
            step /= 2
        beta, current = beta + step, candidate
        converged = bool(np.abs(step).max() < LOGIT_TOLERANCE)
    p = expit(x @ beta)
    cov = np.linalg.inv(x.T @ (x * (p * (1 - p))[:, None]))
    return LogitFit(beta, np.sqrt(np.diag(cov)), names, current, iterations, converged)


def expit(eta: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(eta / 2))  # = 1 / (1 + exp(-eta)), without overflow


@dataclass
class CompletionWeights:
    """P(completion) per patient and the stabilised weights of the completers."""

    study_ids: list[str]  # completers and lost in the completion model
    completed: np.ndarray
    probability: np.ndarray
    weights: dict[str, float]  # completers only: P(completion) overall / P(completion | x)
    model: LogitFit | None
    summary: dict[str, float]
    notes: list[str]

    @property
    def ok(self) -> bool:
        return bool(self.weights)


def completion_weights(patients: pd.DataFrame) -> CompletionWeights:
    """The completion model and the completers' weights; a note instead where impossible."""
    groups = followup_groups(patients)
    chosen = patients.loc[patients["study_id"].isin([*groups.completers, *groups.lost])]
    usable = recorded(chosen, (*CHARACTERISTICS, *COMPLETION_SCORES))
    rows = chosen.loc[usable].reset_index(drop=True)
    completed = rows["has_followup"].to_numpy(float)
    notes = []
    if (~usable).any():
        notes.append(f"{int((~usable).sum())} completers or lost patients without every "
                     "characteristic and baseline score of the completion model are not "
                     "weighted (their rows are not in the weighted models).")
    empty = CompletionWeights(rows["study_id"].tolist(), completed, np.full(len(rows), np.nan),
                              {}, None, {}, notes)
    if completed.sum() == 0 or completed.sum() == len(rows):
        notes.append("No patient lost to follow-up: every completer has weight 1, and the "
                     "weighted analysis is not run." if len(rows) and completed.all() else
                     "No completer: nothing to weight.")
        return empty
    x, names = baseline_design(rows, sorted(rows["clinic"].unique()))
    x = np.column_stack([x, rows[list(COMPLETION_SCORES)].to_numpy(float)])
    names = [*names, *COMPLETION_SCORES]
    keep = np.ptp(x, axis=0) > 0
    keep[0] = True  # a constant dummy (a category nobody has) is left out
    x, names = x[:, keep], [n for n, k in zip(names, keep, strict=True) if k]
    try:
        model = fit_logit(x, completed, names)
    except np.linalg.LinAlgError:
        notes.append("The completion model could not be fitted (singular: collinear "
                     "characteristics); no weighted analysis.")
        return empty
    probability = expit(x @ model.coef)
    if not model.converged or (np.minimum(probability, 1 - probability)
                               < SEPARATION_PROBABILITY).any():
        notes.append("The completion model did not converge or separates completers from "
                     "lost patients (fitted probabilities of 0 or 1): weights would be "
                     "unbounded, so no weighted analysis is shown.")
        return CompletionWeights(empty.study_ids, completed, probability, {}, model, {},
                                 notes)
    share = completed.mean()
    done = completed == 1
    weights = share / probability[done]
    summary = {"min": float(weights.min()), "max": float(weights.max()),
               "mean": float(weights.mean()),
               "effective_n": float(weights.sum() ** 2 / (weights ** 2).sum()),
               "completers": int(done.sum()), "lost": int((~done).sum())}
    return CompletionWeights(rows["study_id"].tolist(), completed, probability,
                             dict(zip(rows.loc[done, "study_id"], weights.tolist(),
                                      strict=True)), model, summary, notes)


@dataclass(frozen=True)
class WeightedTerm:
    term: str
    coef: float
    se: float
    df: int
    ci_low: float
    ci_high: float
    p: float


@dataclass(frozen=True)
class WeightedModel:
    outcome: str
    variant: str
    weighted: bool
    formula: str | None
    n_obs: int
    n_patients: int
    terms: list[WeightedTerm]
    note: str | None = None

    def term(self, name: str) -> WeightedTerm | None:
        return next((t for t in self.terms if t.term == name), None)


def weighted_fit(rows: pd.DataFrame, outcome: str, variant: str, weights: np.ndarray, *,
                 weighted: bool = True) -> WeightedModel:
    """WLS of a Table 2 model with clinic fixed effects, patient-clustered CR1 SEs."""
    import statsmodels.api as sm

    from .regression import formula_for

    formula, _ = formula_for(outcome, variant, rows)
    terms = formula.split("~")[1].split("+")
    names = ["Intercept", *[t.strip() for t in terms]]
    clinics = sorted(pd.unique(rows["clinic"]))
    x = np.column_stack([np.ones(len(rows)), rows[names[1:]].to_numpy(float),
                         *[(rows["clinic"] == c).to_numpy(float) for c in clinics[1:]]])
    y = rows[outcome].to_numpy(float)
    groups = pd.factorize(rows["patient"])[0]
    n_patients = int(groups.max() + 1) if len(groups) else 0
    base = {"outcome": outcome, "variant": variant, "weighted": weighted,
            "formula": formula + (" + clinic (fixed)" if len(clinics) > 1 else ""),
            "n_obs": len(rows), "n_patients": n_patients}
    if n_patients < 2 * x.shape[1] or np.linalg.matrix_rank(x) < x.shape[1]:
        return WeightedModel(**base, terms=[],
                             note="Too few patients or collinear terms for the weighted fit.")
    fit = sm.WLS(y, x, weights=weights if weighted else np.ones(len(y))).fit(
        cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    df = n_patients - 1
    ci = fit.conf_int()
    return WeightedModel(**base, terms=[
        WeightedTerm(name, float(fit.params[k]), float(fit.bse[k]), df, float(ci[k, 0]),
                     float(ci[k, 1]), float(fit.pvalues[k])) for k, name in enumerate(names)])


@dataclass
class IPWResult:
    weights: CompletionWeights
    models: list[WeightedModel]
    notes: list[str]

    def model(self, outcome: str, variant: str = "paper", weighted: bool = True
              ) -> WeightedModel | None:
        return next((m for m in self.models if (m.outcome, m.variant, m.weighted)
                     == (outcome, variant, weighted)), None)

    def to_frame(self) -> pd.DataFrame:
        columns = ["outcome", "variant", "weighted", *WeightedTerm.__dataclass_fields__]
        return pd.DataFrame([{"outcome": m.outcome, "variant": m.variant,
                              "weighted": m.weighted, **asdict(t)}
                             for m in self.models for t in m.terms], columns=columns)


def ipw_models(cohort: pd.DataFrame, patients: pd.DataFrame, *,
               outcomes: list[str] | None = None, variants: list[str] | None = None
               ) -> IPWResult:
    """The Table 2 models on the completers' rows (the paper's population), weighted by
    inverse probability of completion, each beside the same model unweighted."""
    from .regression import selection_for
    from .results import OUTCOMES, VARIANTS

    weights = completion_weights(patients)
    notes = list(weights.notes)
    if not weights.ok:
        return IPWResult(weights, [], notes)
    selection = selection_for(cohort, patients, population="completers")
    models = []
    for outcome in outcomes or [code for code, _ in OUTCOMES]:
        rows = selection.analysed(outcome)
        study_ids = selection.frame.loc[selection.rows[outcome], "patient"]
        row_weights = study_ids.map(weights.weights).to_numpy(float)
        has = np.isfinite(row_weights)
        if (~has).any():
            notes.append(f"{outcome}: {int((~has).sum())} analysed rows without a weight "
                         "left out of both weighted and unweighted fits.")
        rows = rows.loc[has]
        for variant in variants or [v["key"] for v in VARIANTS]:
            for weighted in (True, False):
                models.append(weighted_fit(rows, outcome, variant, row_weights[has],
                                           weighted=weighted))
    return IPWResult(weights, models, notes)
