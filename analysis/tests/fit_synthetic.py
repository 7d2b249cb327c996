"""Synthetic cohorts shaped like the study, for tests and benchmarks (no real data)."""
from __future__ import annotations

import numpy as np
import pandas as pd

STUDY_FORMULA = (
    "pih_overall ~ partnership + C(timepoint) + age + C(gender, Treatment('male'))"
    " + C(ethnicity) + C(education) + pain_years + pain_sites + bpi_severity"
    " + bpi_interference"
)


def simulate_cohort(
    n_patients: int,
    n_clinics: int,
    *,
    seed: int = 0,
    sd_clinic: float = 3.0,
    sd_patient: float = 8.0,
    sd_residual: float = 6.0,
    followed_up: float = 0.7,
) -> pd.DataFrame:
    """Clinic -> patient -> baseline and (for a share of patients) follow-up rows.

    Patient labels restart in every clinic ("P1", "P2", ...), as the nesting allows.
    """
    rng = np.random.default_rng(seed)
    clinic = np.sort(rng.integers(0, n_clinics, n_patients))
    clinic[:n_clinics] = np.arange(n_clinics)[: min(n_clinics, n_patients)]
    clinic = np.sort(clinic)
    patients = _patients(rng, clinic)
    rows = _measurements(rng, patients, followed_up)
    u_clinic = rng.normal(0, sd_clinic, n_clinics)[rows["clinic_code"]]
    u_patient = rng.normal(0, sd_patient, n_patients)[rows["patient_code"]]
    rows["pih_overall"] = (
        40 + 0.5 * rows["partnership"] + 2.0 * (rows["timepoint"] == "followup")
        - 0.05 * rows["age"] + 1.5 * (rows["gender"] == "female")
        - 1.0 * (rows["education"] == "none") + 0.1 * rows["pain_years"]
        - 0.8 * rows["pain_sites"] - 0.6 * rows["bpi_interference"]
        + u_clinic + u_patient + rng.normal(0, sd_residual, len(rows))
    )
    rows["clinic"] = np.char.add("C", rows["clinic_code"].astype(str))
    return rows.drop(columns=["clinic_code", "patient_code"])


def _patients(rng: np.random.Generator, clinic: np.ndarray) -> pd.DataFrame:
    n = len(clinic)
    first_of_clinic = np.searchsorted(clinic, clinic)
    return pd.DataFrame({
        "clinic_code": clinic,
        "patient": np.char.add("P", (np.arange(n) - first_of_clinic + 1).astype(str)),
        "age": rng.integers(18, 90, n).astype(float),
        "gender": rng.choice(["male", "female", "other"], n, p=[0.45, 0.5, 0.05]),
        "ethnicity": rng.choice(["white_british", "non_british"], n, p=[0.8, 0.2]),
        "education": rng.choice(["none", "below_a_level", "a_level_or_above"], n),
        "pain_years": rng.integers(0, 40, n).astype(float),
        "pain_sites": rng.integers(1, 8, n).astype(float),
    })


def _measurements(
    rng: np.random.Generator, patients: pd.DataFrame, followed_up: float
) -> pd.DataFrame:
    n = len(patients)
    patient_code = np.arange(n)
    second = patient_code[rng.random(n) < followed_up]
    codes = np.concatenate([patient_code, second])
    rows = patients.iloc[codes].reset_index(drop=True)
    rows["patient_code"] = codes
    rows["timepoint"] = np.where(np.arange(len(codes)) < n, "baseline", "followup")
    m = len(rows)
    rows["partnership"] = rng.normal(35, 8, m)
    rows["bpi_severity"] = rng.uniform(0, 10, m)
    rows["bpi_interference"] = rng.uniform(0, 10, m)
    return rows


# Table 2's form: a plain sum of numeric columns, dummies built beforehand
PAPER_FORMULA = (
    "pih_overall ~ partnership + followup + age + female + gender_other + white_british"
    " + education_below_a_level + education_a_level_or_above + pain_years + pain_sites"
    " + bpi_severity + bpi_interference"
)


def with_dummies(rows: pd.DataFrame) -> pd.DataFrame:
    """The categorical columns of `simulate_cohort` as 0/1 columns, as Table 2 codes them."""
    dummies = {
        "followup": rows["timepoint"] == "followup",
        "female": rows["gender"] == "female", "gender_other": rows["gender"] == "other",
        "white_british": rows["ethnicity"] == "white_british",
        "education_below_a_level": rows["education"] == "below_a_level",
        "education_a_level_or_above": rows["education"] == "a_level_or_above",
    }
    return rows.assign(**{name: flag.astype(float) for name, flag in dummies.items()})
