"""Multiple imputation of the missing follow-up measures (MAR), Rubin's rules, tipping point.

Who is imputed: the completers and the patients lost to follow-up (attrition.followup_groups)
with every patient-level characteristic recorded (the Table 2 models need them all; they are
not imputed). Patients still in the follow-up window are left out: their follow-up is not
missing, it is not yet due.

The imputation model is chained equations (fully conditional specification) with the
Bayesian linear-regression draw of R's mice `norm` method (Rubin 1987, p. 167; van Buuren,
Flexible Imputation of Missing Data, 2nd ed., algorithm 3.1): for each score with missing
values in turn, an OLS fit on the patients where it is observed, then sigma* from
SSR / chi-square(n_obs - p), beta* ~ N(beta_hat, sigma*^2 (X'X)^-1), and the missing values
X beta* + N(0, sigma*^2). Predictors of each score: every other baseline and follow-up score,
the Table 2 characteristics (as their dummies) and clinic (as dummies). PIH overall is a
weighted mean of the four domains (100 x sum of the 12 items / 96), so it is imputed
passively from the imputed domains and predicts nothing (as a predictor it would make the
chain nearly deterministic). Each imputation is its own chain, started from random observed
values, with its own seed from numpy's SeedSequence(seed).spawn(m): the result is the same
for the same data, seed and m, and imputation i can be redone alone.

Each completed data set is refitted with the Table 2 models (analysis.stats.regression, every
row of every imputed patient) and the estimates pooled by Rubin's rules with the
Barnard-Rubin (1999) degrees of freedom; the complete-data df is n_obs - number of fixed
terms, as mice's pool() takes it from df.residual for lmer fits.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from questionnaires.instruments import SCALES_BY_CODE

from .attrition import CHARACTERISTICS, COVARIATE_DUMMIES, followup_groups
from .regression import fit_model, model_frame, select_rows
from .results import OUTCOMES, VARIANTS

logger = logging.getLogger(__name__)

DEFAULT_IMPUTATIONS = 20
DEFAULT_ITERATIONS = 10
DEFAULT_SEED = 20181
MIN_IMPUTATIONS = 2
SCORE_CODES = ("bpi_severity", "bpi_interference", "ppic_partnership", "pih_knowledge",
               "pih_side_effects", "pih_symptoms", "pih_adherence", "pih_overall")
TIMEPOINTS = ("baseline", "followup")
SCORE_COLUMNS = tuple(f"{t}_{code}" for t in TIMEPOINTS for code in SCORE_CODES)
PASSIVE = "pih_overall"
DOMAIN_ITEMS = {code: len(SCALES_BY_CODE[code].items) for code in
                ("pih_knowledge", "pih_side_effects", "pih_symptoms", "pih_adherence")}
RIDGE = 1e-5  # mice's ridge: X'X + ridge * diag(X'X), so a near-collinear predictor is drawn


class ImputationError(ValueError):
    """An imputation model cannot be fitted (too few observed values, non-finite data)."""


# --- Rubin's rules ------------------------------------------------------------------------


@dataclass(frozen=True)
class Pooled:
    """One parameter pooled over m completed-data fits (Rubin 1987; Barnard & Rubin 1999)."""

    estimate: float
    within: float  # mean of the completed-data variances, U-bar
    between: float  # variance of the estimates across imputations, B
    total: float  # T = U-bar + (1 + 1/m) B
    se: float
    df: float
    ci_low: float
    ci_high: float
    p: float
    riv: float  # relative increase in variance, (1 + 1/m) B / U-bar
    fmi: float  # fraction of missing information, as mice reports it
    m: int


def pool_rubin(estimates, variances, *, df_complete: float = np.inf,
               level: float = 0.95) -> Pooled:
    """Rubin's rules for one scalar; `df_complete` inf gives Rubin's (1987) df."""
    q = np.asarray(estimates, float)
    u = np.asarray(variances, float)
    m = len(q)
    if m < MIN_IMPUTATIONS:
        raise ValueError(f"pooling needs at least {MIN_IMPUTATIONS} estimates, got {m}")
    qbar, ubar, b = q.mean(), u.mean(), q.var(ddof=1)
    t = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t if t > 0 else 0.0
    df_old = (m - 1) / lam ** 2 if lam > 0 else np.inf
    if np.isfinite(df_complete):
        df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
        df = df_obs if not np.isfinite(df_old) else df_old * df_obs / (df_old + df_obs)
    else:
        df = df_old
    se = np.sqrt(t)
    quantile = stats.t.ppf(0.5 + level / 2, df) if np.isfinite(df) else \
        stats.norm.ppf(0.5 + level / 2)
    statistic = qbar / se if se > 0 else np.nan
    p = 2 * (stats.t.sf(abs(statistic), df) if np.isfinite(df) else
             stats.norm.sf(abs(statistic)))
    riv = (1 + 1 / m) * b / ubar if ubar > 0 else np.inf
    fmi = (riv + 2 / (df + 3)) / (riv + 1) if np.isfinite(df) else lam
    return Pooled(estimate=float(qbar), within=float(ubar), between=float(b), total=float(t),
                  se=float(se), df=float(df), ci_low=float(qbar - quantile * se),
                  ci_high=float(qbar + quantile * se), p=float(p), riv=float(riv),
                  fmi=float(fmi), m=m)


# --- the Bayesian linear-regression draw (mice "norm") --------------------------------------


@dataclass(frozen=True)
class NormFit:
    """The OLS fit an imputation draws around: beta_hat, (X'X)^-1 (ridged), SSR, df."""

    beta: np.ndarray
    xtx_inv: np.ndarray
    ssr: float
    df: int


def fit_norm(x: np.ndarray, y: np.ndarray, *, name: str = "the score") -> NormFit:
    n, p = x.shape
    if n - p < 2:
        raise ImputationError(f"Imputation model for {name}: {n} observed values for {p} "
                              "predictors (at least 2 more values than predictors needed).")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ImputationError(f"Imputation model for {name}: non-finite values.")
    xtx = x.T @ x
    xtx_inv = np.linalg.inv(xtx + np.diag(np.diag(xtx)) * RIDGE)
    beta = xtx_inv @ (x.T @ y)
    residual = y - x @ beta
    return NormFit(beta=beta, xtx_inv=xtx_inv, ssr=float(residual @ residual), df=n - p)


def draw_norm(fit: NormFit, x_missing: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Imputed values: sigma* and beta* from their posterior, then a residual per value."""
    sigma = np.sqrt(fit.ssr / rng.chisquare(fit.df))
    beta = fit.beta + sigma * np.linalg.cholesky(_symmetric(fit.xtx_inv)) @ \
        rng.standard_normal(len(fit.beta))
    return x_missing @ beta + sigma * rng.standard_normal(len(x_missing))


def _symmetric(matrix: np.ndarray) -> np.ndarray:
    return (matrix + matrix.T) / 2


# --- the data to impute -------------------------------------------------------------------


@dataclass
class ImputationData:
    """The imputed patients: fixed predictors, the score matrix and where it is missing."""

    patients: pd.DataFrame  # patients_wide rows of the imputed patients
    fixed: np.ndarray  # intercept, age, dummies, clinic dummies (never missing)
    fixed_names: list[str]
    scores: np.ndarray  # SCORE_COLUMNS, NaN where missing
    missing: np.ndarray
    lost: np.ndarray  # per patient: a non-completer (lost to follow-up)
    excluded: int  # completers and lost left out for a missing characteristic


def imputation_data(patients: pd.DataFrame) -> ImputationData:
    groups = followup_groups(patients)
    chosen = patients.loc[patients["study_id"].isin([*groups.completers, *groups.lost])]
    recorded = np.logical_and.reduce([(chosen[c].notna() & (chosen[c] != "")).to_numpy()
                                      for c in CHARACTERISTICS])
    rows = chosen.loc[recorded].reset_index(drop=True)
    clinics = sorted(rows["clinic"].unique())
    columns = {"intercept": np.ones(len(rows)), "age": rows["age"].to_numpy(float)}
    for variable, level in COVARIATE_DUMMIES:
        columns[f"{variable}={level}"] = (rows[variable] == level).to_numpy(float)
    for clinic in clinics[1:]:
        columns[f"clinic={clinic}"] = (rows["clinic"] == clinic).to_numpy(float)
    scores = rows[list(SCORE_COLUMNS)].to_numpy(float)
    return ImputationData(patients=rows, fixed=np.column_stack(list(columns.values())),
                          fixed_names=list(columns), scores=scores, missing=np.isnan(scores),
                          lost=rows["study_id"].isin(groups.lost).to_numpy(),
                          excluded=int((~recorded).sum()))


def _predictor_columns(target: int) -> list[int]:
    """Score columns that predict SCORE_COLUMNS[target]: all others but PIH overall."""
    return [j for j, name in enumerate(SCORE_COLUMNS)
            if j != target and not name.endswith(PASSIVE)]


def _passive_overall(scores: np.ndarray, missing: np.ndarray) -> None:
    """PIH overall = sum over domains of items x domain score / 12, where it is missing."""
    total = sum(DOMAIN_ITEMS.values())
    for timepoint in TIMEPOINTS:
        target = SCORE_COLUMNS.index(f"{timepoint}_{PASSIVE}")
        weighted = sum(n * scores[:, SCORE_COLUMNS.index(f"{timepoint}_{code}")]
                       for code, n in DOMAIN_ITEMS.items()) / total
        rows = missing[:, target]
        scores[rows, target] = weighted[rows]


def impute_once(data: ImputationData, *, iterations: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray]:
    """One chain: the completed score matrix and the mean imputed value per iteration."""
    scores, missing = data.scores.copy(), data.missing
    targets = [j for j in range(len(SCORE_COLUMNS))
               if missing[:, j].any() and not SCORE_COLUMNS[j].endswith(PASSIVE)]
    for j in targets:
        if missing[:, j].all():
            raise ImputationError(f"{SCORE_COLUMNS[j]}: no observed value to impute from.")
    # Start: each score drawn from the fixed predictors and the scores already filled in
    # (complete ones, then earlier targets), as a monotone pattern would be imputed. The
    # follow-up scores are missing together and strongly correlated, so a chain started
    # from random observed values (mice's default) drifts for many iterations.
    filled = [j for j in range(len(SCORE_COLUMNS)) if not missing[:, j].any()
              and not SCORE_COLUMNS[j].endswith(PASSIVE)]
    for j in targets:
        _draw(data, scores, j, filled, rng)
        filled.append(j)
    _passive_overall(scores, missing)
    trace = np.full((iterations, len(SCORE_COLUMNS)), np.nan)
    for iteration in range(iterations):
        for j in targets:
            _draw(data, scores, j, _predictor_columns(j), rng)
        _passive_overall(scores, missing)
        for j in np.flatnonzero(missing.any(axis=0)):
            trace[iteration, j] = scores[missing[:, j], j].mean()
    return scores, trace


def _draw(data: ImputationData, scores: np.ndarray, j: int, predictors: list[int],
          rng: np.random.Generator) -> None:
    """Replace the missing values of score j by a draw from its imputation model."""
    x = np.column_stack([data.fixed, scores[:, predictors]])
    rows = data.missing[:, j]
    # a predictor constant where the score is observed (a category nobody in the cohort
    # has) identifies nothing and would make X'X singular: left out
    keep = np.ptp(x[~rows], axis=0) > 0
    keep[0] = True  # the intercept
    fit = fit_norm(x[~rows][:, keep], scores[~rows, j], name=SCORE_COLUMNS[j])
    scores[rows, j] = draw_norm(fit, x[rows][:, keep], rng)


def long_cohort(completed: pd.DataFrame) -> pd.DataFrame:
    """The cohort frame regression.model_frame reads: each patient's baseline row, then the
    follow-up row (row 2i and 2i + 1 for patient i)."""
    rows = completed[["study_id", "clinic", "age", "gender", "ethnicity", "education"]]
    cohort = rows.loc[rows.index.repeat(2)].reset_index(drop=True)
    cohort["timepoint"] = np.tile(TIMEPOINTS, len(rows))
    for code in SCORE_CODES:
        cohort[code] = _interleave(completed[f"baseline_{code}"].to_numpy(),
                                   completed[f"followup_{code}"].to_numpy())
    return cohort


def _interleave(baseline: np.ndarray, followup: np.ndarray) -> np.ndarray:
    return np.column_stack([baseline, followup]).ravel()


class CompletedSets:
    """The m completed data sets as Table 2 model frames.

    The model frame (dummies, levels) is built once; each data set only replaces the score
    columns (partnership, baseline severity, the outcomes), which is most of the cost of a
    refit otherwise.
    """

    def __init__(self, data: ImputationData, scores: list[np.ndarray]) -> None:
        self.data, self.scores = data, scores
        completed = data.patients.copy()
        completed[list(SCORE_COLUMNS)] = scores[0] if scores else data.scores
        self.template = model_frame(long_cohort(completed), completed)

    def __len__(self) -> int:
        return len(self.scores)

    def frame(self, i: int, shift: tuple[str, float] | None = None) -> pd.DataFrame:
        """Data set i; `shift` (outcome, delta) adds delta to the lost patients' follow-up
        value of that outcome (the tipping-point analysis)."""
        scores = self.scores[i]
        frame = self.template.copy()

        def column(timepoint: str, code: str) -> np.ndarray:
            return scores[:, SCORE_COLUMNS.index(f"{timepoint}_{code}")]

        frame["partnership"] = _interleave(column("baseline", "ppic_partnership"),
                                           column("followup", "ppic_partnership"))
        frame["baseline_severity"] = np.repeat(column("baseline", "bpi_severity"), 2)
        for code, _ in OUTCOMES:
            followup = column("followup", code)
            if shift is not None and shift[0] == code:
                followup = followup + shift[1] * self.data.lost
            frame[code] = _interleave(column("baseline", code), followup)
        return frame

    def fit(self, i: int, outcome: str, variant: str, *, reml: bool = False,
            shift: tuple[str, float] | None = None,
            start: dict[str, float] | None = None) -> dict:
        """One Table 2 model on data set i (every row analysed); `start`: the optimiser's
        starting variance ratios."""
        frame = self.frame(i, shift)
        selection = select_rows(frame, population="completers",
                                completers=np.ones(len(frame), dtype=bool))
        return fit_model(frame, outcome, variant, population="completers", reml=reml,
                         selection=selection, rows=selection.analysed(outcome), start=start)

    def patients(self, i: int) -> pd.DataFrame:
        """Data set i as patients_wide rows (for display or checks)."""
        completed = self.data.patients.copy()
        completed[list(SCORE_COLUMNS)] = self.scores[i]
        return completed


# --- the whole analysis -------------------------------------------------------------------


@dataclass(frozen=True)
class PooledTerm:
    term: str
    pooled: Pooled


@dataclass(frozen=True)
class PooledModel:
    outcome: str
    variant: str
    formula: str | None
    fitted: int  # imputations whose fit succeeded
    terms: list[PooledTerm]
    notes: list[str]

    def term(self, name: str) -> Pooled | None:
        return next((t.pooled for t in self.terms if t.term == name), None)


@dataclass
class MIResult:
    m: int
    seed: int
    iterations: int
    counts: dict[str, int]  # patients imputed, completers, lost, excluded, values imputed
    imputed_values: dict[str, int]  # per score column
    models: list[PooledModel]
    notes: list[str]
    trace: np.ndarray | None = None  # (m, iterations, score columns): mean imputed value
    completed: CompletedSets | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return bool(self.models)

    def model(self, outcome: str, variant: str = "paper") -> PooledModel | None:
        return next((m for m in self.models if (m.outcome, m.variant) == (outcome, variant)),
                    None)

    def to_frame(self) -> pd.DataFrame:
        """One row per model term: the pooled estimate, CI, p, df, FMI."""
        columns = ["outcome", "variant", "term", *Pooled.__dataclass_fields__]
        return pd.DataFrame([{"outcome": m.outcome, "variant": m.variant, "term": t.term,
                              **asdict(t.pooled)} for m in self.models for t in m.terms],
                            columns=columns)

    def to_dict(self) -> dict:
        return {"m": self.m, "seed": self.seed, "iterations": self.iterations,
                "counts": self.counts, "imputed_values": self.imputed_values,
                "notes": self.notes, "models": [asdict(m) for m in self.models]}


def multiple_imputation(patients: pd.DataFrame, *, m: int = DEFAULT_IMPUTATIONS,
                        seed: int = DEFAULT_SEED, iterations: int = DEFAULT_ITERATIONS,
                        outcomes: list[str] | None = None, variants: list[str] | None = None,
                        reml: bool = False) -> MIResult:
    """Impute m times, refit the Table 2 models on each completed data set, pool them.

    Never raises for the data: a cohort with nothing missing, or an imputation model that
    cannot be fitted, gives a result without models and a note saying why.
    """
    if m < MIN_IMPUTATIONS:
        raise ValueError(f"m: at least {MIN_IMPUTATIONS} imputations, got {m}")
    data = imputation_data(patients)
    counts = {"patients": len(data.patients), "completers": int((~data.lost).sum()),
              "lost": int(data.lost.sum()), "excluded": data.excluded,
              "values_imputed": int(data.missing.sum())}
    imputed_values = {name: int(data.missing[:, j].sum())
                      for j, name in enumerate(SCORE_COLUMNS)}
    result = MIResult(m=m, seed=seed, iterations=iterations, counts=counts,
                      imputed_values=imputed_values, models=[], notes=[])
    if data.excluded:
        result.notes.append(f"{data.excluded} completers or lost patients without every "
                            "characteristic recorded are not imputed (nor in any model).")
    if not counts["lost"]:
        result.notes.append("No patient lost to follow-up: there is nothing to impute for "
                            "attrition; multiple imputation was not run.")
        return result
    try:
        chains = [impute_once(data, iterations=iterations, rng=np.random.default_rng(s))
                  for s in np.random.SeedSequence(seed).spawn(m)]
    except (ImputationError, np.linalg.LinAlgError) as exc:
        result.notes.append(f"Multiple imputation failed, so it is not shown: {exc}")
        return result
    result.trace = np.stack([trace for _, trace in chains])
    result.completed = CompletedSets(data, [scores for scores, _ in chains])
    result.models = refit_pooled(result.completed, outcomes=outcomes, variants=variants,
                                 reml=reml)
    return result


def refit_pooled(completed: CompletedSets, *, outcomes: list[str] | None = None,
                 variants: list[str] | None = None, reml: bool = False,
                 shift: tuple[str, float] | None = None) -> list[PooledModel]:
    outcomes = outcomes or [code for code, _ in OUTCOMES]
    variants = variants or [v["key"] for v in VARIANTS]
    return [pool_models(_fits(completed, outcome, variant, reml=reml, shift=shift),
                        outcome, variant)
            for outcome in outcomes for variant in variants]


def _fits(completed: CompletedSets, outcome: str, variant: str, *, reml: bool,
          shift: tuple[str, float] | None) -> list[dict]:
    """The model on every data set. The first is fitted from the optimiser's starting grid,
    the others start at its variance ratios: the data sets differ only in the imputed
    values, so their maxima lie close together (a third of the time of a grid per refit)."""
    first = completed.fit(0, outcome, variant, reml=reml, shift=shift)
    start = ratios_of(first)
    return [first, *(completed.fit(i, outcome, variant, reml=reml, shift=shift, start=start)
                     for i in range(1, len(completed)))]


def ratios_of(model: dict) -> dict[str, float] | None:
    """A fitted model's variance ratios (level / residual), or None."""
    variances = model.get("variances") or {}
    residual = variances.get("residual")
    if not model.get("ok") or not residual:
        return None
    return {level: value / residual for level, value in variances.items()
            if level != "residual" and value is not None}


def pool_models(fits: list[dict], outcome: str, variant: str) -> PooledModel:
    """Rubin's rules per term over the fits that succeeded (a note for those that did not)."""
    good = [f for f in fits if f["ok"] and f["converged"]]
    notes = []
    if len(good) < len(fits):
        reasons = sorted({f["error"] or "not converged" for f in fits if f not in good})
        notes.append(f"{len(fits) - len(good)} of {len(fits)} imputed data sets could not be "
                     f"fitted ({'; '.join(reasons)}); pooled over the other {len(good)}.")
    if len(good) < MIN_IMPUTATIONS:
        notes.append("Too few fitted imputations to pool: not shown.")
        return PooledModel(outcome, variant, fits[0]["formula"] if fits else None, len(good),
                           [], notes)
    terms = []
    for position, term in enumerate(good[0]["terms"]):
        rows = [f["terms"][position] for f in good]
        if any(r["term"] != term["term"] or r["se"] is None for r in rows):
            notes.append(f"{term['term']}: not in every imputed fit; not pooled.")
            continue
        df_complete = good[0]["n_obs"] - len(good[0]["terms"])
        terms.append(PooledTerm(term["term"], pool_rubin(
            [r["coef"] for r in rows], [r["se"] ** 2 for r in rows], df_complete=df_complete)))
    return PooledModel(outcome, variant, good[0]["formula"], len(good), terms, notes)


# --- delta-adjusted tipping point -----------------------------------------------------------


@dataclass(frozen=True)
class TippingPoint:
    outcome: str
    term: str
    grid: list[dict]  # delta, estimate, ci_low, ci_high, p (every delta evaluated)
    tipping_delta: float | None  # the delta at which the CI first includes 0
    note: str


def tipping_point(result: MIResult, outcome: str, *, term: str = "partnership",
                  variant: str = "paper", step: float = 5.0, limit: float = -60.0,
                  tolerance: float = 0.25) -> TippingPoint:
    """Shift the imputed follow-up outcome of the lost patients by delta (<= 0: worse).

    The shift is applied to the completed data sets after imputation (delta adjustment of
    the lost patients' imputed values, Cro et al. 2020, Stat Med 39:2815), the models are
    refitted and pooled. The grid runs 0, -step, ... down to `limit` until the pooled 95 % CI
    of `term` includes 0, then bisection narrows the tipping delta to `tolerance` units.
    """
    if not result.completed:
        return TippingPoint(outcome, term, [], None,
                            "No imputed data sets: " + " ".join(result.notes))

    def evaluate(delta: float) -> dict:
        pooled = refit_pooled(result.completed, outcomes=[outcome], variants=[variant],
                              shift=(outcome, delta))[0].term(term)
        if pooled is None:
            raise ImputationError(f"{term} could not be pooled at delta {delta:g}")
        return {"delta": delta, "estimate": pooled.estimate, "ci_low": pooled.ci_low,
                "ci_high": pooled.ci_high, "p": pooled.p}

    def includes_zero(row: dict) -> bool:
        return row["ci_low"] <= 0 <= row["ci_high"]

    grid: list[dict] = []
    try:
        for delta in np.arange(0.0, limit - 1e-9, -abs(step)):
            grid.append(evaluate(float(delta)))
            if includes_zero(grid[-1]):
                break
        if includes_zero(grid[0]):
            return TippingPoint(outcome, term, grid, 0.0,
                                "The CI includes 0 without any shift.")
        if not includes_zero(grid[-1]):
            return TippingPoint(outcome, term, grid, None,
                                f"The CI excludes 0 for every delta down to "
                                f"{grid[-1]['delta']:g}.")
        outside, inside = grid[-2]["delta"], grid[-1]["delta"]
        while outside - inside > tolerance:
            middle = (outside + inside) / 2
            row = evaluate(middle)
            grid.append(row)
            outside, inside = (outside, middle) if includes_zero(row) else (middle, inside)
    except ImputationError as exc:
        return TippingPoint(outcome, term, grid, None, f"Stopped: {exc}")
    grid.sort(key=lambda row: -row["delta"])
    return TippingPoint(outcome, term, grid, inside,
                        f"The CI first includes 0 at delta {inside:g} (within {tolerance:g}).")
