"""Simulate study-sized cohorts and find their ML and REML optima by brute force.

Writes fit_reference.npz beside this file: the cohorts' data (stored, so that the test does
not depend on a random stream) and, per cohort and method, the largest profiled
log-likelihood found with dense matrices. The search is written from scratch with numpy and
scipy (nothing from analysis.multilevel): V = sigma2 (I + g_c Zc Zc' + g_p Zp Zp') built
explicitly, beta and sigma2 profiled out, the deviance evaluated on a grid of variance
ratios that includes both boundary faces and the corner, then refined with Nelder-Mead
from the best grid points and with Brent's method along each boundary face.

    .venv/bin/python analysis/tests/data/make_fit_reference.py   # ~10 minutes
"""
from __future__ import annotations

import math
import os
from pathlib import Path

# one thread: small matrices, and the machine is shared
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from scipy.linalg import cholesky, solve_triangular
from scipy.optimize import minimize, minimize_scalar

OUT = Path(__file__).with_name("fit_reference.npz")
N_COHORTS = 240
SEED = 20260101
FORMULA = "y ~ x1 + x2 + x3 + followup"
GRID = np.concatenate([[0.0], np.logspace(-4, 2.5, 27)])
G_MAX = 1e4


def simulate(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """80-150 patients in 3-5 clinics, baseline plus a follow-up for most patients."""
    n_pat, n_clin = int(rng.integers(80, 151)), int(rng.integers(3, 6))
    clinic = np.concatenate([np.arange(n_clin), rng.integers(0, n_clin, n_pat - n_clin)])
    followed = rng.random(n_pat) < rng.uniform(0.5, 0.95)
    pid = np.concatenate([np.arange(n_pat), np.flatnonzero(followed)])
    n = len(pid)
    ratio_c = 0.0 if rng.random() < 0.25 else math.exp(rng.uniform(math.log(1e-3), math.log(3)))
    ratio_p = 0.0 if rng.random() < 0.2 else math.exp(rng.uniform(math.log(1e-2), math.log(10)))
    x2 = (rng.random(n_pat) < 0.5).astype(float)[pid]
    x3 = np.round(rng.normal(50, 15, n_pat), 1)[pid]
    x1 = np.round(rng.normal(0, 1, n), 3)
    follow = (np.arange(n) >= n_pat).astype(float)
    y = (1.0 + 0.5 * x1 - 0.3 * x2 + 0.02 * x3 + 0.4 * follow
         + rng.normal(0, math.sqrt(ratio_c), n_clin)[clinic[pid]]
         + rng.normal(0, math.sqrt(ratio_p), n_pat)[pid] + rng.normal(0, 1, n))
    # patient labels restart in every clinic, as the nesting allows
    label = np.zeros(n_pat, dtype=int)
    for c in range(n_clin):
        label[clinic == c] = np.arange((clinic == c).sum())
    return {"clinic": clinic[pid], "patient": label[pid], "x1": x1, "x2": x2, "x3": x3,
            "followup": follow, "y": np.round(y, 4)}


def design(cohort: dict[str, np.ndarray]) -> tuple:
    n = len(cohort["y"])
    X = np.column_stack([np.ones(n), cohort["x1"], cohort["x2"], cohort["x3"],
                         cohort["followup"]])
    same_c = cohort["clinic"][:, None] == cohort["clinic"][None, :]
    same_p = same_c & (cohort["patient"][:, None] == cohort["patient"][None, :])
    return cohort["y"], X, same_c.astype(float), same_p.astype(float)


def dense_deviance(g_c: float, g_p: float, y, X, ZZc, ZZp, reml: bool) -> float:
    """-2 (restricted) log-likelihood with sigma2 and beta profiled out, dense V / sigma2."""
    n, p = X.shape
    H = g_c * ZZc + g_p * ZZp
    H[np.diag_indices(n)] += 1.0
    L = cholesky(H, lower=True)
    A = solve_triangular(L, np.column_stack([X, y]), lower=True)  # L^-1 [X y]
    Xt, yt = A[:, :p], A[:, p]
    beta = np.linalg.solve(Xt.T @ Xt, Xt.T @ yt)
    rss = float(np.sum((yt - Xt @ beta) ** 2))
    dof = n - p if reml else n
    dev = dof * (1 + math.log(2 * math.pi * rss / dof)) + 2 * np.log(np.diag(L)).sum()
    if reml:
        dev += np.linalg.slogdet(Xt.T @ Xt)[1]
    return float(dev)


def dense_optimum(y, X, ZZc, ZZp, reml: bool) -> tuple[float, float, float]:
    """Smallest deviance found, and the variance ratios (clinic, patient) where found."""
    def f(gc, gp):
        return dense_deviance(gc, gp, y, X, ZZc, ZZp, reml)

    table = np.array([[f(a, b) for b in GRID] for a in GRID])
    candidates = [(table[i, j], GRID[i], GRID[j]) for i, j in np.ndindex(table.shape)]
    # Nelder-Mead in sd ratios (theta = sqrt(g), |theta| keeps it feasible) from the best
    # three grid points
    for _, a, b in sorted(candidates)[:3]:
        res = minimize(lambda t: f(min(t[0] ** 2, G_MAX), min(t[1] ** 2, G_MAX)),
                       [math.sqrt(a) + 1e-3, math.sqrt(b) + 1e-3], method="Nelder-Mead",
                       options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 4000})
        candidates.append((res.fun, res.x[0] ** 2, res.x[1] ** 2))
    # each boundary face, one variance at 0, by Brent's method on the other's sd ratio
    for face in (0, 1):
        res = minimize_scalar(
            lambda t, face=face: f(*((0.0, t * t) if face == 0 else (t * t, 0.0))),
            bounds=(0.0, math.sqrt(G_MAX)), method="bounded", options={"xatol": 1e-10})
        g = (0.0, res.x ** 2) if face == 0 else (res.x ** 2, 0.0)
        candidates.append((res.fun, *g))
    best = min(candidates)
    return float(best[0]), float(best[1]), float(best[2])


def main() -> None:
    rng = np.random.default_rng(SEED)
    columns: dict[str, list] = {k: [] for k in
                                ["cohort", "clinic", "patient", "x1", "x2", "x3", "followup", "y"]}
    refs = {"ML": [], "REML": []}
    for k in range(N_COHORTS):
        cohort = simulate(rng)
        columns["cohort"].append(np.full(len(cohort["y"]), k))
        for name, values in cohort.items():
            columns[name].append(values)
        dense = design(cohort)
        for method in refs:
            refs[method].append(dense_optimum(*dense, reml=method == "REML"))
        print(k, len(cohort["y"]), refs["ML"][-1], refs["REML"][-1], flush=True)
    data = {name: np.concatenate(parts) for name, parts in columns.items()}
    ints = {"cohort": np.int16, "clinic": np.int8, "patient": np.int16, "x2": np.int8,
            "followup": np.int8}
    data = {k: v.astype(ints.get(k, np.float64)) for k, v in data.items()}
    for method, rows in refs.items():
        arr = np.array(rows)
        data[f"loglik_{method}"] = -arr[:, 0] / 2.0
        data[f"ratios_{method}"] = arr[:, 1:]
    np.savez_compressed(OUT, formula=np.array(FORMULA), **data)


if __name__ == "__main__":
    main()
