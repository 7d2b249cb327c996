"""Table 2: three-level random-intercept models, one per PIH outcome and model variant.

The paper's model (Fu et al. 2018): the outcome at each timepoint on partnership at that
timepoint, age, gender (ref male), ethnicity (ref non-British), education (ref no
qualifications), pain severity at baseline, years of pain (ref <= 4) and pain sites
(ref 1), with random intercepts for clinic and patient, fitted by ML. Two variants are
reported beside it: one adds the timepoint, one splits partnership into the patient's
mean over the analysed rows and the deviation from it (between and within effects).
Dummy columns are built here, not by the formula, so that term names and references are
fixed whatever categories the data happen to contain.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from questionnaires.instruments import SCALES_BY_CODE

from ..multilevel import FitError, fit_nested
from .model_checks import model_checks
from .results import OUTCOMES, VARIANTS, clean_number

logger = logging.getLogger(__name__)

LEVELS = ["clinic", "patient"]
# term, label, reference category (None for a continuous term)
TERMS: list[tuple[str, str, str | None]] = [
    ("Intercept", "Intercept", None),
    ("partnership", "Partnership (PPiC)", None),
    ("partnership_between", "Partnership, patient mean (between)", None),
    ("partnership_within", "Partnership, change from patient mean (within)", None),
    ("followup", "3-month follow-up", "baseline"),
    ("age", "Age (years)", None),
    ("female", "Female", "male"),
    ("gender_other", "Other gender", "male"),
    ("white_british", "White British", "non-British"),
    ("education_below_a_level", "Below A level", "no qualifications"),
    ("education_a_level_or_above", "A level and above", "no qualifications"),
    ("baseline_severity", "Pain severity at baseline (BPI)", None),
    ("pain_years_5to7", "5-7 years of pain", "<= 4 years"),
    ("pain_years_ge8", ">= 8 years of pain", "<= 4 years"),
    ("pain_sites_2", "2 pain sites", "1 site"),
    ("pain_sites_ge3", ">= 3 pain sites", "1 site"),
]
TERM_LABELS = {term: (label, reference) for term, label, reference in TERMS}
COVARIATES = ["age", "female", "gender_other", "white_british", "education_below_a_level",
              "education_a_level_or_above", "baseline_severity", "pain_years_5to7",
              "pain_years_ge8", "pain_sites_2", "pain_sites_ge3"]
VARIANT_TERMS = {
    "paper": ["partnership"],
    "timepoint": ["partnership", "followup"],
    "between_within": ["partnership_between", "partnership_within"],
}


def _dummy(values: pd.Series, level: str) -> pd.Series:
    """1.0 / 0.0 for a category, NaN where the category is missing."""
    given = values.notna() & (values != "")
    return (values == level).astype("float64").where(given)


def model_frame(cohort: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """One row per administration with every model variable (NaN where missing)."""
    baseline = patients.set_index("study_id")
    frame = pd.DataFrame({
        "clinic": cohort["clinic"], "patient": cohort["study_id"],
        "followup": (cohort["timepoint"] == "followup").astype("float64"),
        "partnership": cohort["ppic_partnership"], "age": cohort["age"],
        "female": _dummy(cohort["gender"], "female"),
        "gender_other": _dummy(cohort["gender"], "other"),
        "white_british": _dummy(cohort["ethnicity"], "white_british"),
        "education_below_a_level": _dummy(cohort["education"], "below_a_level"),
        "education_a_level_or_above": _dummy(cohort["education"], "a_level_or_above"),
        "baseline_severity": cohort["study_id"].map(baseline["baseline_bpi_severity"]),
    })
    years = cohort["study_id"].map(baseline["pain_years_group"])
    sites = cohort["study_id"].map(baseline["pain_sites_group"])
    frame["pain_years_5to7"] = _dummy(years, "5to7")
    frame["pain_years_ge8"] = _dummy(years, "ge8")
    frame["pain_sites_2"] = _dummy(sites, "2")
    frame["pain_sites_ge3"] = _dummy(sites, "ge3")
    for code, _ in OUTCOMES:
        frame[code] = cohort[code]
    return frame


# --- which rows each model analyses ---------------------------------------------------------
#
# Populations (analysis/stats/results.py POPULATIONS): "completers" is the paper's rule: the
# patients followed up, and every row of theirs where the model's variables are present
# (Stata's `mixed` drops a row that lacks a value, not the patient). "completers_both_rows"
# (sensitivity) keeps a completer only when both rows are complete; "all_available" also
# analyses the baseline rows of patients without a follow-up.

# Patient-level variables: a patient missing one is out of every model.
PATIENT_VARIABLES: list[tuple[str, str]] = [
    ("age", "without an age in the clinical record"),
    ("female", "without a recorded gender"),
    ("white_british", "without a recorded ethnicity"),
    ("education_below_a_level", "without a recorded education"),
    ("pain_years_5to7", "without the years of pain recorded"),
    ("pain_sites_2", "without the number of pain sites recorded"),
]
TIMEPOINT_WORDS = {0.0: "baseline", 1.0: "follow-up"}


def _score_reason(code: str, when: str = "") -> str:
    """Why a score is missing, from its scoring rule (questionnaires/instruments.py)."""
    scale = SCALES_BY_CODE[code]
    too_many = scale.n_items - scale.min_answered + 1
    return (f"without a {when}{scale.label} score: {too_many} or more of its {scale.n_items} "
            "items unanswered")


MODEL_COLUMNS = ["clinic", "patient", "followup", "partnership", *COVARIATES]


@dataclass
class Selection:
    """The model frame and the rows every model analyses, computed once for all 15 models.

    `base` marks the rows of the population's patients; `patient_ok` the rows whose patient
    has every patient-level variable; `rows[outcome]` the analysed rows of an outcome,
    shared by its three variants.
    """

    frame: pd.DataFrame
    population: str
    patient_codes: np.ndarray
    base: np.ndarray
    present: dict[str, np.ndarray]
    clinic_codes: np.ndarray
    rows: dict[str, np.ndarray] = field(default_factory=dict)

    def analysed(self, outcome: str) -> pd.DataFrame:
        """The outcome's analysed rows, with partnership split between and within patients."""
        mask = self.rows[outcome]
        rows = self.frame.loc[mask, MODEL_COLUMNS + [outcome]]
        codes = self.patient_codes[mask]
        partnership = rows["partnership"].to_numpy()
        sums = np.bincount(codes, weights=partnership, minlength=codes.max() + 1 if len(codes)
                           else 0)
        counts = np.bincount(codes, minlength=len(sums))
        between = sums[codes] / counts[codes]
        # integer codes for the levels: grouping them is several times cheaper than
        # grouping study ids and clinic codes (text) at national scale
        return rows.assign(patient=codes, clinic=self.clinic_codes[mask],
                           partnership_between=between,
                           partnership_within=partnership - between)

    def patients(self) -> set[str]:
        """Study ids analysed in at least one model (Table 1's population)."""
        analysed = np.zeros(len(self.frame), dtype=bool)
        for mask in self.rows.values():
            analysed |= mask
        return set(self.frame["patient"].to_numpy()[analysed])


def select_rows(frame: pd.DataFrame, *, population: str, completers: np.ndarray
                ) -> Selection:
    """Row masks of every outcome under the population rule (numpy, no copies)."""
    codes, _ = pd.factorize(frame["patient"])
    base = completers.copy() if population != "all_available" else np.ones(len(frame), bool)
    present = {name: frame[name].notna().to_numpy()
               for name in ["partnership", "baseline_severity", *COVARIATES]}
    patient_ok = np.logical_and.reduce([present[name] for name, _ in PATIENT_VARIABLES]
                                       + [present["baseline_severity"]])
    clinic_codes, _ = pd.factorize(frame["clinic"])
    selection = Selection(frame, population, codes, base, present, clinic_codes)
    for outcome, _ in OUTCOMES:
        mask = base & patient_ok & present["partnership"] & frame[outcome].notna().to_numpy()
        if population == "completers_both_rows":
            mask &= np.bincount(codes[mask], minlength=codes.max() + 1)[codes] == 2
        selection.rows[outcome] = mask
    return selection


def exclusions(selection: Selection, outcome: str) -> list[dict]:
    """Rows of the population left out of an outcome's models, each with its reason.

    A row is counted once, under the first reason that applies: patient-level variables
    first (they exclude the patient), then partnership, then the outcome.
    """
    frame, base = selection.frame, selection.base
    followup = frame["followup"].to_numpy()
    checks = [(name, None, reason, ~selection.present[name]) for name, reason in
              PATIENT_VARIABLES]
    checks.append(("baseline_severity", None, _score_reason("bpi_severity", "baseline "),
                   ~selection.present["baseline_severity"]))
    checks.append(("partnership", "row", _score_reason("ppic_partnership"),
                   ~selection.present["partnership"]))
    checks.append((outcome, "row", _score_reason(outcome), frame[outcome].isna().to_numpy()))
    taken = ~base
    out = []
    for variable, per_row, reason, missing in checks:
        new = missing & ~taken
        taken |= new
        if not new.any():
            continue
        if per_row:
            for value, word in TIMEPOINT_WORDS.items():
                hit = new & (followup == value)
                if hit.any():
                    out.append(_exclusion(selection, hit, variable, word, reason))
        else:
            out.append(_exclusion(selection, new, variable, None, reason))
    if selection.population == "completers_both_rows":
        other = base & ~taken & ~selection.rows[outcome]
        if other.any():
            out.append(_exclusion(selection, other, "other_row", None,
                                  "whose other row is excluded (both rows required)"))
    return out


def _exclusion(selection: Selection, hit: np.ndarray, variable: str, timepoint: str | None,
               reason: str) -> dict:
    rows = int(hit.sum())
    patients = int(len(np.unique(selection.patient_codes[hit])))
    where = f"{timepoint} row" if timepoint else "row"
    text = (f"{rows} {where}{'s' if rows != 1 else ''} "
            + (f"({patients} patient{'s' if patients != 1 else ''}) " if not timepoint else "")
            + reason)
    return {"variable": variable, "timepoint": timepoint, "rows": rows, "patients": patients,
            "reason": reason, "text": text}


def population_note(selection: Selection) -> dict:
    """The population's own exclusion: patients not followed up (not completers)."""
    left_out = ~selection.base
    return {"rows": int(left_out.sum()),
            "patients": int(len(np.unique(selection.patient_codes[left_out])))}


def completer_rows(frame: pd.DataFrame, patients: pd.DataFrame) -> np.ndarray:
    """Rows of patients with a complete baseline and a complete follow-up."""
    both = patients.loc[patients["has_baseline"] & patients["has_followup"], "study_id"]
    return frame["patient"].isin(both).to_numpy()


def analysed_rows(frame: pd.DataFrame, outcome: str, *, population: str,
                  completers: np.ndarray | None = None) -> pd.DataFrame:
    """The rows an outcome's models analyse (one outcome; table2 shares a Selection)."""
    if completers is None:
        completers = _completers_in_frame(frame)
    return select_rows(frame, population=population, completers=completers).analysed(outcome)


def _completers_in_frame(frame: pd.DataFrame) -> np.ndarray:
    """Completers read from the frame itself: a baseline and a follow-up row."""
    rows = frame.groupby("patient")["followup"].agg(["min", "max"])
    both = rows.index[(rows["min"] == 0) & (rows["max"] == 1)]
    return frame["patient"].isin(both).to_numpy()


def formula_for(outcome: str, variant: str, rows: pd.DataFrame) -> tuple[str, list[str]]:
    """The model formula, leaving out categories absent from the rows (with a warning)."""
    warnings = []
    covariates = []
    for name in COVARIATES:
        values = rows[name].to_numpy()
        if len(values) and values.min() != values.max():
            covariates.append(name)
        elif name != "gender_other":
            label, reference = TERM_LABELS[name]
            warnings.append(f"{label}: no variation in the analysed rows; term left out.")
    terms = [*VARIANT_TERMS[variant], *covariates]
    return f"{outcome} ~ {' + '.join(terms)}", warnings


def fit_model(frame: pd.DataFrame, outcome: str, variant: str, *, population: str,
              reml: bool = False, selection: Selection | None = None,
              rows: pd.DataFrame | None = None, checks: bool = False,
              profile: str = "on", start: dict[str, float] | None = None) -> dict:
    """One Table 2 model as JSON (analysis/stats/results.py); a failed fit carries its error.

    `checks` adds the schema-3 keys (model_checks.py: REML small-sample inference, variance
    tests, profile CIs, diagnostics; `profile` is "on" or a key of
    model_checks.PROFILE_SKIPPED); the imputation's refits leave them out.
    `start`: the optimiser's starting variance ratios (multilevel.fit_nested).
    """
    if selection is None:
        selection = select_rows(frame, population=population,
                                completers=_completers_in_frame(frame))
    if rows is None:
        rows = selection.analysed(outcome)
    formula, warnings = formula_for(outcome, variant, rows)
    base = {"outcome": outcome, "variant": variant, "formula": formula,
            "n_obs": int(len(rows)), "n_patients": int(rows["patient"].nunique()),
            "n_clinics": int(rows["clinic"].nunique()),
            "exclusions": exclusions(selection, outcome)}
    problem = unfittable(rows, outcome, formula)
    if problem is None:
        try:
            fit = fit_nested(rows, formula, LEVELS, reml=reml, start=start)
        except (FitError, np.linalg.LinAlgError) as exc:
            problem = str(exc)
        except Exception as exc:  # any other failure: this model says why, the rest show
            logger.exception("Table 2 model %s / %s failed", outcome, variant)
            problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        return {**base, "ok": False, "error": problem, "converged": False, "loglik": None,
                "terms": [], "variances": {}, "icc": {}, "dropped_levels": [],
                "warnings": warnings}
    warnings.extend(fit.warnings)
    if not fit.converged:
        warnings.append("The optimiser did not converge; estimates are unreliable.")
    extra = model_checks(rows, formula, LEVELS, fit, reml=reml, profile=profile) \
        if checks else {}
    return {**base, "ok": True, "error": None, "n_obs": int(fit.n_obs),
            "n_patients": int(fit.n_groups.get("patient", base["n_patients"])),
            "n_clinics": int(fit.n_groups.get("clinic", base["n_clinics"])),
            "converged": bool(fit.converged), "loglik": clean_number(fit.loglik),
            "terms": [_term(term, row) for term, row in fit.fixed.iterrows()],
            "variances": {k: clean_number(v) for k, v in fit.variances.items()},
            "icc": {k: clean_number(v) for k, v in fit.icc.items()},
            "dropped_levels": list(getattr(fit, "dropped_levels", [])),
            "warnings": warnings, **extra}


# Fewer patients than this per fixed term is too few to fit (the paper had ~9 per term).
MIN_PATIENTS_PER_TERM = 2


def unfittable(rows: pd.DataFrame, outcome: str, formula: str) -> str | None:
    """A plain reason why these rows cannot support the model, or None."""
    label = dict(OUTCOMES).get(outcome, outcome)
    if rows.empty:
        return "No analysed rows: every row of the population lacks a variable of the model."
    values = rows[outcome].to_numpy()
    if values.min() == values.max():
        return (f"{label} has the same value ({values[0]:g}) in all {len(values)} analysed "
                "rows: there is no variation to model.")
    n_terms = formula.count("+") + 2  # the terms and the intercept
    n_patients = rows["patient"].nunique()
    if n_patients < MIN_PATIENTS_PER_TERM * n_terms:
        return (f"Too few patients: {n_patients} analysed for {n_terms} fixed terms (at least "
                f"{MIN_PATIENTS_PER_TERM * n_terms} needed).")
    return None


def _term(term: str, row: pd.Series) -> dict:
    label, reference = TERM_LABELS.get(term, (term, None))
    return {"term": term, "label": label, "reference": reference,
            **{col: clean_number(row[col]) for col in ("coef", "se", "ci_low", "ci_high", "p")}}


def table2(cohort: pd.DataFrame, patients: pd.DataFrame, *, population: str,
           reml: bool = False, progress: Callable[[], None] | None = None,
           selection: Selection | None = None, slow_checks: bool = False) -> dict:
    """Every outcome x variant model; `progress` is called after each fit (heartbeat).

    `slow_checks` adds the profile-likelihood CIs of the published variant (model_checks.py;
    seconds a model): the model run asks for them (setting ANALYSIS_SLOW_CHECKS).

    The model frame and the row selection are built once; an outcome's rows are
    materialised once and shared by its three variants.
    """
    if selection is None:
        selection = selection_for(cohort, patients, population=population)
    models = {}
    for outcome, _ in OUTCOMES:
        rows = selection.analysed(outcome)
        for variant in VARIANTS:
            models[(variant["key"], outcome)] = fit_model(
                selection.frame, outcome, variant["key"], population=population, reml=reml,
                selection=selection, rows=rows, checks=True,
                profile="on" if slow_checks and variant["key"] == "paper"
                else "published" if slow_checks else "off")
            if progress is not None:
                progress()
    return {"population": population,
            "outcomes": [{"key": key, "label": label} for key, label in OUTCOMES],
            "variants": [dict(v) for v in VARIANTS],
            "not_in_population": population_note(selection),
            "models": [models[(v["key"], o)] for v in VARIANTS for o, _ in OUTCOMES]}


def selection_for(cohort: pd.DataFrame, patients: pd.DataFrame, *, population: str
                  ) -> Selection:
    """The model frame of the cohort and its row selection under the population rule."""
    frame = model_frame(cohort, patients)
    return select_rows(frame, population=population,
                       completers=completer_rows(frame, patients))
