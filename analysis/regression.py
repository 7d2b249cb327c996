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

from collections.abc import Callable

import numpy as np
import pandas as pd

from .multilevel import FitError, fit_nested
from .results import OUTCOMES, VARIANTS, clean_number

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


def analysed_rows(frame: pd.DataFrame, outcome: str, *, population: str) -> pd.DataFrame:
    """Rows with every variable of the model; complete cases keep patients with both rows.

    The between/within split is computed here, over exactly these rows.
    """
    needed = [outcome, "partnership", "clinic", "patient", *COVARIATES]
    needed.remove("gender_other")  # missing gender already shows as NaN in "female"
    rows = frame.dropna(subset=needed).copy()
    if population == "complete_cases":
        counts = rows.groupby("patient")["patient"].transform("size")
        rows = rows.loc[counts == 2].copy()
    rows["partnership_between"] = rows.groupby("patient")["partnership"].transform("mean")
    rows["partnership_within"] = rows["partnership"] - rows["partnership_between"]
    return rows


def formula_for(outcome: str, variant: str, rows: pd.DataFrame) -> tuple[str, list[str]]:
    """The model formula, leaving out categories absent from the rows (with a warning)."""
    warnings = []
    covariates = []
    for name in COVARIATES:
        if rows[name].nunique() > 1:
            covariates.append(name)
        elif name != "gender_other":
            label, reference = TERM_LABELS[name]
            warnings.append(f"{label}: no variation in the analysed rows; term left out.")
    terms = [*VARIANT_TERMS[variant], *covariates]
    return f"{outcome} ~ {' + '.join(terms)}", warnings


def fit_model(frame: pd.DataFrame, outcome: str, variant: str, *, population: str,
              reml: bool = False) -> dict:
    """One Table 2 model as JSON (analysis/results.py); a failed fit carries its error."""
    rows = analysed_rows(frame, outcome, population=population)
    formula, warnings = formula_for(outcome, variant, rows)
    base = {"outcome": outcome, "variant": variant, "formula": formula,
            "n_obs": int(len(rows)), "n_patients": int(rows["patient"].nunique()),
            "n_clinics": int(rows["clinic"].nunique())}
    try:
        fit = fit_nested(rows, formula, LEVELS, reml=reml)
    except (FitError, np.linalg.LinAlgError) as exc:
        return {**base, "ok": False, "error": str(exc), "converged": False, "loglik": None,
                "terms": [], "variances": {}, "icc": {}, "warnings": warnings}
    warnings.extend(fit.warnings)
    if not fit.converged:
        warnings.append("The optimiser did not converge; estimates are unreliable.")
    return {**base, "ok": True, "error": None, "n_obs": int(fit.n_obs),
            "n_patients": int(fit.n_groups.get("patient", base["n_patients"])),
            "n_clinics": int(fit.n_groups.get("clinic", base["n_clinics"])),
            "converged": bool(fit.converged), "loglik": clean_number(fit.loglik),
            "terms": [_term(term, row) for term, row in fit.fixed.iterrows()],
            "variances": {k: clean_number(v) for k, v in fit.variances.items()},
            "icc": {k: clean_number(v) for k, v in fit.icc.items()},
            "warnings": warnings}


def _term(term: str, row: pd.Series) -> dict:
    label, reference = TERM_LABELS.get(term, (term, None))
    return {"term": term, "label": label, "reference": reference,
            **{col: clean_number(row[col]) for col in ("coef", "se", "ci_low", "ci_high", "p")}}


def table2(cohort: pd.DataFrame, patients: pd.DataFrame, *, population: str,
           reml: bool = False, progress: Callable[[], None] | None = None) -> dict:
    """Every outcome x variant model; `progress` is called after each fit (heartbeat)."""
    frame = model_frame(cohort, patients)
    models = []
    for variant in VARIANTS:
        for outcome, _ in OUTCOMES:
            models.append(fit_model(frame, outcome, variant["key"], population=population,
                                    reml=reml))
            if progress is not None:
                progress()
    return {"population": population,
            "outcomes": [{"key": key, "label": label} for key, label in OUTCOMES],
            "variants": [dict(v) for v in VARIANTS],
            "models": models}
