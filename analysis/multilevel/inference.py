"""Small-sample inference for the fixed effects: Satterthwaite and Kenward-Roger ddf.

Both need, at the REML estimate of the variance parameters theta = (variance of each
fitted level, outermost first, then the residual variance), with V = sum theta_i G_i
(G_i = Z_i Z_i' for a level, I for the residual):

  Phi = (X'V^-1 X)^-1,   M_i = X'V^-1 G_i V^-1 X   (d Phi / d theta_i = Phi M_i Phi),
  Q_ij = X'V^-1 G_i V^-1 G_j V^-1 X,  and the REML information tr(P G_i P G_j),
  P = V^-1 - V^-1 X Phi X'V^-1.

Satterthwaite (as lmerTest): df = 2 (l'Phi l)^2 / (g'A g), g_i = l'Phi M_i Phi l and
A = 2 H^-1, H the observed Hessian of the REML deviance (lmerTest takes it numerically in
its (theta, sigma) parametrisation; at an interior optimum it is the same quadratic form).
Kenward-Roger (as pbkrtest's vcovAdj and get_Lb_ddf): W = 2 (expected information)^-1,
Phi_A = Phi + 2 Phi U Phi with U = sum_ij W_ij (Q_ij - M_i Phi M_j), and the KR df of
each coefficient from the unadjusted Phi; the SE is sqrt of Phi_A's diagonal.

V is dense but block-diagonal by the outermost fitted level (by clinic), so memory grows
with the largest clinic, not with n.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

from .nesting import Nesting

DDF_METHODS = ("satterthwaite", "kenward-roger")
# Without levels V is diagonal: any split of the rows is a block-diagonal split.
CHUNK = 500
# Information (or Hessian) eigenvalues below this fraction of the largest: singular.
SINGULAR_RTOL = 1e-10


class DdfUnavailable(Exception):
    """The ddf cannot be computed for this fit; the message says why (shown as a note)."""


@dataclass(frozen=True)
class Moments:
    """The REML quantities at theta (on the fitter's scaled X)."""

    phi: np.ndarray
    M: list[np.ndarray]
    Q: list[list[np.ndarray]]
    expected: np.ndarray  # tr(P G_i P G_j)
    observed: np.ndarray  # Hessian of the REML deviance in theta


@dataclass(frozen=True)
class SmallSample:
    """Per coefficient (original scale): ddf and the SE the t statistic uses."""

    method: str
    df: np.ndarray
    se: np.ndarray
    cov_adjusted: np.ndarray | None  # Kenward-Roger's Phi_A, else None


def check_ddf(ddf: str | None, reml: bool) -> None:
    """Refuse an unknown method, or a ddf for an ML fit (both are REML methods)."""
    if ddf is None:
        return
    if ddf not in DDF_METHODS:
        raise ValueError(f"ddf must be None, 'satterthwaite' or 'kenward-roger', got {ddf!r}")
    if not reml:
        raise ValueError(
            f"ddf={ddf!r} needs reml=True: Satterthwaite and Kenward-Roger degrees of "
            "freedom are defined for the REML fit (as lmerTest and pbkrtest compute them)"
        )


def row_blocks(nesting: Nesting, n: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Row indices per block of V, and the group code of each row per fitted level."""
    if nesting.inner is None:
        return [np.arange(a, min(a + CHUNK, n)) for a in range(0, n, CHUNK)], []
    codes = [nesting.inner]
    if nesting.outer_of_inner is not None:
        codes.insert(0, nesting.outer_of_inner[nesting.inner])
    order = np.argsort(codes[0], kind="stable")
    bounds = np.flatnonzero(np.diff(codes[0][order])) + 1
    return np.split(order, bounds), codes


def moments(X: np.ndarray, y: np.ndarray, theta: np.ndarray, blocks: list[np.ndarray],
            codes: list[np.ndarray]) -> Moments:
    """Phi, M_i, Q_ij and both informations, accumulated block by block."""
    k = len(theta)
    parts = [_block_terms(X[rows], y[rows], theta, [c[rows] for c in codes])
             for rows in blocks]
    xvx = sum(part["xvx"] for part in parts)
    phi = np.linalg.inv(xvx)
    beta = phi @ sum(part["xvy"] for part in parts)
    parts = [_residual_terms(part, beta) for part in parts]
    M = [sum(part["M"][i] for part in parts) for i in range(k)]
    Q = [[sum(part["Q"][i][j] for part in parts) for j in range(k)] for i in range(k)]
    K = sum(part["K"] for part in parts)
    uvu = sum(part["uvu"] for part in parts)
    b = np.column_stack([sum(part["b"][:, i] for part in parts) for i in range(k)])
    expected = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            expected[i, j] = (K[i, j] - 2.0 * np.sum(phi * Q[i][j].T)
                              + np.sum((phi @ M[i]) * (phi @ M[j]).T))
    observed = -expected + 2.0 * (uvu - b.T @ phi @ b)
    return Moments(phi, M, Q, (expected + expected.T) / 2, (observed + observed.T) / 2)


def _block_terms(X: np.ndarray, y: np.ndarray, theta: np.ndarray,
                 codes: list[np.ndarray]) -> dict:
    G = [(c[:, None] == c[None, :]).astype(float) for c in codes] + [np.eye(len(y))]
    V = sum(t * g for t, g in zip(theta, G, strict=True))
    Vinv = np.linalg.inv(V)
    VX = Vinv @ X
    A = [g @ VX for g in G]  # G_i V^-1 X
    VG = [Vinv @ g for g in G]
    k = len(G)
    return {
        "X": X, "y": y, "Vinv": Vinv, "VX": VX, "G": G,
        "xvx": X.T @ VX, "xvy": VX.T @ y,
        "M": [VX.T @ a for a in A],
        "Q": [[A[i].T @ Vinv @ A[j] for j in range(k)] for i in range(k)],
        "K": np.array([[np.sum(VG[i] * VG[j].T) for j in range(k)] for i in range(k)]),
    }


def _residual_terms(part: dict, beta: np.ndarray) -> dict:
    """u_i = G_i V^-1 r: y'P G_i P G_j P y = u_i'V^-1 u_j - b_i'Phi b_j, b_i = X'V^-1 u_i."""
    vr = part["Vinv"] @ (part["y"] - part["X"] @ beta)
    U = np.column_stack([g @ vr for g in part["G"]])
    return {**part, "uvu": U.T @ part["Vinv"] @ U, "b": part["VX"].T @ U}


def _checked_inverse(matrix: np.ndarray, what: str) -> np.ndarray:
    values = np.linalg.eigvalsh(matrix)
    if not np.isfinite(values).all() or values.min() <= SINGULAR_RTOL * abs(values).max():
        raise DdfUnavailable(
            f"the {what} of the variance parameters is singular or not positive definite "
            "at the estimate, so their sampling covariance (and the ddf) cannot be computed"
        )
    return np.linalg.inv(matrix)


def satterthwaite(mom: Moments, transform: np.ndarray) -> SmallSample:
    """lmerTest's Satterthwaite df for each coefficient (rows of `transform`)."""
    A = 2.0 * _checked_inverse(mom.observed, "observed REML information (Hessian)")
    df, se = [], []
    for row in transform:
        var = float(row @ mom.phi @ row)
        g = np.array([float(row @ mom.phi @ m @ mom.phi @ row) for m in mom.M])
        df.append(2.0 * var**2 / float(g @ A @ g))
        se.append(math.sqrt(var))
    return SmallSample("satterthwaite", np.array(df), np.array(se), None)


def kenward_roger(mom: Moments, transform: np.ndarray) -> SmallSample:
    """pbkrtest's adjusted covariance and KR df for each coefficient."""
    W = 2.0 * _checked_inverse(mom.expected, "expected REML information")
    k, phi = len(mom.M), mom.phi
    U = sum(W[i, j] * (mom.Q[i][j] - mom.M[i] @ phi @ mom.M[j])
            for i in range(k) for j in range(k))
    phi_a = phi + 2.0 * phi @ U @ phi
    cov = transform @ phi_a @ transform.T
    df = np.array([_kr_df(row[None, :], phi, mom.M, W) for row in transform])
    se = np.sqrt(np.diag(cov))
    return SmallSample("kenward-roger", df, se, (cov + cov.T) / 2)


def _kr_df(L: np.ndarray, phi: np.ndarray, M: list[np.ndarray], W: np.ndarray) -> float:
    """pbkrtest's .get_ddf for the contrast rows L (P_i = -M_i; signs cancel in pairs)."""
    q = np.linalg.matrix_rank(L)
    theta = L.T @ np.linalg.solve(L @ phi @ L.T, L)
    u = [theta @ phi @ m @ phi for m in M]
    A1 = sum(W[i, j] * np.trace(u[i]) * np.trace(u[j])
             for i in range(len(M)) for j in range(len(M)))
    A2 = sum(W[i, j] * np.sum(u[i] * u[j].T) for i in range(len(M)) for j in range(len(M)))
    B = (A1 + 6.0 * A2) / (2.0 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    denom = 3 * q + 2 * (1 - g)
    c1, c2, c3 = g / denom, (q - g) / denom, (q + 2 - g) / denom
    rho = (1.0 / q) * ((1 - A2 / q) / (1 - c2 * B)) ** 2 * (1 + c1 * B) / (1 - c3 * B)
    return float(4.0 + (q + 2) / (q * rho - 1))


def t_table(coef: np.ndarray, small: SmallSample) -> dict[str, np.ndarray]:
    """se, df, t-based CI and two-sided p for each coefficient."""
    df, se = small.df, small.se
    half = student_t.ppf(0.975, df) * se
    return {"se": se, "df": df, "ci_low": coef - half, "ci_high": coef + half,
            "p": 2.0 * student_t.sf(np.abs(coef / se), df)}
