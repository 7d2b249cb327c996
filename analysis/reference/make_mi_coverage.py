"""The multiple-imputation coverage study: cohorts with 30 % MAR dropout, MI beside complete case.

Each replicate simulates a study-sized cohort (120 patients reaching the follow-up window in
3 clinics, as the demo's 85 completers and 35 lost) from the paper's model with a known
partnership coefficient, removes every follow-up measure of 30 % of the patients with a
probability that depends on their observed baseline self-management and partnership
(missing at random, not completely at random), and estimates the partnership coefficient
of the PIH overall model (the paper's variant, ML, z-based 95 % CI):

- "full": the fit to the cohort before dropout (what the design would give without loss);
- "complete_case": the paper's population (completers only);
- "mi": analysis.stats.imputation.multiple_imputation (m = 20, Rubin's rules).

Run once (about 10 minutes on the 2 shared cores) from the repository root:

    .venv/bin/python analysis/reference/make_mi_coverage.py [--replicates 200]

It writes analysis/tests/data/mi_coverage.json: the settings, every replicate (its seed and
estimates) and the summary (bias, empirical SE, mean SE, 95 % CI coverage with its Monte
Carlo SE). analysis/tests/test_imputation_coverage.py checks the stored coverage and re-runs
stored replicates, which must reproduce exactly (the seeds determine everything).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "analysis" / "tests" / "data" / "mi_coverage.json"
N_PATIENTS, N_CLINICS, DROPOUT = 120, 3, 0.30
IMPUTATIONS, ITERATIONS = 20, 10
BASE_SEED = 19_2026
DOMAINS = {  # partnership coefficient (the demo's Table 2) and items per domain
    "pih_knowledge": (1.47, 2), "pih_side_effects": (0.70, 3),
    "pih_symptoms": (0.72, 3), "pih_adherence": (0.62, 4),
}
# PIH overall = 100 x sum of the 12 items / 96 = the item-weighted mean of the domains
TRUE_COEFFICIENT = sum(b * n for b, n in DOMAINS.values()) / 12
SD_CLINIC, SD_PATIENT, SD_RESIDUAL, DOMAIN_CORRELATION = 3.0, 10.0, 10.0, 0.4
# MAR dropout: log-odds of being lost per SD of baseline PIH overall and partnership
DROPOUT_SLOPES = {"baseline_pih_overall": -1.0, "baseline_ppic_partnership": -0.5}


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


def simulate(seed: int):
    """One cohort as patients_wide rows, with the dropout applied; deterministic in seed."""
    import pandas as pd
    from scipy.optimize import brentq
    from scipy.special import expit

    rng = np.random.default_rng(seed)
    n = N_PATIENTS
    clinic = rng.choice(N_CLINICS, n, p=[0.3, 0.5, 0.2])
    frame = pd.DataFrame({
        "study_id": [f"S{i:04d}" for i in range(n)],
        "clinic": np.array(["A", "B", "C"])[clinic],
        "age": np.clip(np.rint(rng.normal(48, 14, n)), 19, 84),
        "gender": np.where(rng.random(n) < 0.67, "female", "male"),
        "ethnicity": np.where(rng.random(n) < 0.82, "white_british", "non_british"),
        "education": rng.choice(["none", "below_a_level", "a_level_or_above"], n,
                                p=[0.31, 0.52, 0.17]),
        "pain_years_group": rng.choice(["le4", "5to7", "ge8"], n, p=[0.35, 0.15, 0.50]),
        "pain_sites_group": rng.choice(["1", "2", "ge3"], n, p=[0.19, 0.38, 0.43]),
    })
    severity = rng.normal(5.7, 1.5, n)
    partnership = {"baseline": rng.normal(37.8, 8.6, n)}
    partnership["followup"] = (45.1 + 0.5 * (6.8 / 8.6) * (partnership["baseline"] - 37.8)
                               + rng.normal(0, 6.8 * np.sqrt(0.75), n))
    frame["baseline_bpi_severity"] = severity
    frame["followup_bpi_severity"] = severity - 0.6 + rng.normal(0, 1.1, n)
    frame["baseline_bpi_interference"] = 6.2 + 0.8 * (severity - 5.7) + rng.normal(0, 1.5, n)
    frame["followup_bpi_interference"] = (frame["baseline_bpi_interference"] - 0.5
                                          + rng.normal(0, 1.2, n))
    correlated = np.full((4, 4), DOMAIN_CORRELATION) + np.eye(4) * (1 - DOMAIN_CORRELATION)
    u_clinic = rng.normal(0, SD_CLINIC, (N_CLINICS, 4))[clinic]
    # Cholesky, not numpy's default SVD: the SVD's singular vectors may change sign with the
    # machine's LAPACK build, which changed every draw and so the stored replicates.
    u_patient = rng.multivariate_normal(np.zeros(4), correlated * SD_PATIENT ** 2, n,
                                        method="cholesky")
    covariates = (-0.1 * (frame["age"] - 48) + 2.0 * (frame["gender"] == "female")
                  + 3.0 * (frame["education"] == "a_level_or_above")
                  - 1.5 * (severity - 5.7) - 2.0 * (frame["pain_sites_group"] == "ge3"))
    for timepoint in ("baseline", "followup"):
        frame[f"{timepoint}_ppic_partnership"] = partnership[timepoint]
        residual = rng.multivariate_normal(np.zeros(4), correlated * SD_RESIDUAL ** 2, n,
                                           method="cholesky")
        overall = np.zeros(n)
        for d, (code, (beta, items)) in enumerate(DOMAINS.items()):
            value = (20 + beta * partnership[timepoint] + covariates + u_clinic[:, d]
                     + u_patient[:, d] + residual[:, d])
            frame[f"{timepoint}_{code}"] = value
            overall += items * value / 12
        frame[f"{timepoint}_pih_overall"] = overall
    # MAR: the probability of loss depends on observed baseline values only
    score = sum(slope * (frame[c] - frame[c].mean()) / frame[c].std()
                for c, slope in DROPOUT_SLOPES.items()).to_numpy()
    shift = brentq(lambda c: expit(c + score).mean() - DROPOUT, -20, 20)
    lost = rng.random(n) < expit(shift + score)
    full = frame.assign(has_baseline=True, has_followup=True, followup_status="completed",
                        lost_reason="")
    observed = full.copy()
    followup = [c for c in observed.columns if c.startswith("followup_")
                and c != "followup_status"]
    observed.loc[lost, followup] = np.nan
    observed.loc[lost, "has_followup"] = False
    observed.loc[lost, "followup_status"] = "lost"
    return full, observed


def _direct_fit(patients, *, population: str) -> dict:
    """The paper model of PIH overall on the patients_wide rows (no imputation)."""
    from analysis.stats.imputation import long_cohort
    from analysis.stats.regression import fit_model, model_frame, select_rows

    done = patients.loc[patients["has_followup"]]
    cohort = long_cohort(done)
    frame = model_frame(cohort, done)
    selection = select_rows(frame, population=population,
                            completers=np.ones(len(frame), dtype=bool))
    model = fit_model(frame, "pih_overall", "paper", population=population,
                      selection=selection, rows=selection.analysed("pih_overall"))
    term = next(t for t in model["terms"] if t["term"] == "partnership")
    return {"estimate": term["coef"], "se": term["se"], "ci_low": term["ci_low"],
            "ci_high": term["ci_high"]}


def replicate(index: int, *, imputations: int = IMPUTATIONS) -> dict:
    """Replicate `index`: its cohort seed, and the full, complete-case and MI estimates."""
    from analysis.stats.imputation import multiple_imputation

    seed = BASE_SEED + index
    full, observed = simulate(seed)
    result = multiple_imputation(observed, m=imputations, seed=seed, iterations=ITERATIONS,
                                 outcomes=["pih_overall"], variants=["paper"])
    pooled = result.model("pih_overall").term("partnership")
    return {"index": index, "seed": seed, "lost": int((~observed["has_followup"]).sum()),
            "full": _direct_fit(full, population="completers"),
            "complete_case": _direct_fit(observed, population="completers"),
            "mi": {"estimate": pooled.estimate, "se": pooled.se, "ci_low": pooled.ci_low,
                   "ci_high": pooled.ci_high, "df": pooled.df, "fmi": pooled.fmi}}


def summarise(replicates: list[dict]) -> dict:
    out = {}
    for method in ("full", "complete_case", "mi"):
        est = np.array([r[method]["estimate"] for r in replicates])
        se = np.array([r[method]["se"] for r in replicates])
        covered = np.array([r[method]["ci_low"] <= TRUE_COEFFICIENT <= r[method]["ci_high"]
                            for r in replicates])
        coverage = covered.mean()
        out[method] = {"bias": float(est.mean() - TRUE_COEFFICIENT),
                       "bias_mc_se": float(est.std(ddof=1) / np.sqrt(len(est))),
                       "empirical_se": float(est.std(ddof=1)), "mean_se": float(se.mean()),
                       "coverage": float(coverage),
                       "coverage_mc_se": float(np.sqrt(coverage * (1 - coverage) / len(est)))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    args = parser.parse_args()
    _setup()
    import numpy
    import scipy
    import statsmodels

    started, replicates = time.perf_counter(), []
    for index in range(args.replicates):
        replicates.append(replicate(index))
        if (index + 1) % 10 == 0:
            print(f"{index + 1} replicates, {time.perf_counter() - started:.0f} s", flush=True)
    document = {
        "description": "MI coverage study, written by analysis/reference/make_mi_coverage.py",
        "settings": {"patients": N_PATIENTS, "clinics": N_CLINICS, "dropout": DROPOUT,
                     "dropout_slopes_per_sd": DROPOUT_SLOPES, "imputations": IMPUTATIONS,
                     "iterations": ITERATIONS, "base_seed": BASE_SEED,
                     "true_coefficient": TRUE_COEFFICIENT, "outcome": "pih_overall",
                     "variant": "paper", "term": "partnership",
                     "sd": {"clinic": SD_CLINIC, "patient": SD_PATIENT,
                            "residual": SD_RESIDUAL}},
        "versions": {"python": sys.version.split()[0], "numpy": numpy.__version__,
                     "scipy": scipy.__version__, "statsmodels": statsmodels.__version__},
        "seconds": round(time.perf_counter() - started, 1),
        "summary": summarise(replicates),
        "replicates": replicates,
    }
    OUTPUT.write_text(json.dumps(document, indent=1) + "\n")
    print(json.dumps(document["summary"], indent=1))


if __name__ == "__main__":
    main()
