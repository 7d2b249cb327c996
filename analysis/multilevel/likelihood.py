"""The profiled log-likelihood of a nested random-intercept model from group sums.

With V = sigma2 * H and H = I + g_in Z_in Z_in' + g_out Z_out Z_out' (g = variance
ratios), each inner block of H is I + g_in J, with inverse I - g_in/(1 + g_in m) J
and determinant 1 + g_in m for a group of size m; each outer block adds a rank-one
term, handled by Woodbury and the matrix determinant lemma. So W'H^-1 W (W = [X, y])
and log|H| need only W'W and the inner-group sums of W. Inner groups of equal size share
their weights, so the sums are further collapsed to one set per distinct size (and per
outer group): an evaluation then costs O(D p^2 + K D p) for D distinct sizes and K outer
groups, however many observations there are.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve

from .nesting import Nesting


@dataclass(frozen=True)
class SufficientStats:
    """Everything the likelihood needs, collapsed by inner-group size."""

    n: int
    p: int
    cross: np.ndarray  # W'W, (q, q) with q = p + 1
    sizes: np.ndarray  # (D,) distinct inner-group sizes
    size_counts: np.ndarray  # (D,) inner groups of each size
    size_cross: np.ndarray  # (D, q, q) sum of S S' over inner groups of each size
    outer_sums: np.ndarray | None  # (K, D, q) sum of S per outer group and size
    outer_counts: np.ndarray | None  # (K, D) inner groups per outer group and size

    @property
    def n_ratios(self) -> int:
        """Number of variance ratios to estimate (fitted levels)."""
        if self.outer_sums is not None:
            return 2
        return 0 if self.size_cross.shape[0] == 0 else 1


@dataclass(frozen=True)
class GLS:
    """Generalised least squares for fixed variance ratios (sigma2 profiled out)."""

    beta: np.ndarray
    chol: np.ndarray  # lower Cholesky factor of X'H^-1X
    rss: float  # r'H^-1 r
    logdet_h: float
    logdet_xhx: float


def group_sums(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Column sums of `values` (n, q) within groups 0..n_groups-1."""
    return np.stack(
        [np.bincount(codes, weights=col, minlength=n_groups) for col in values.T], axis=1
    )


def sufficient_stats(X: np.ndarray, y: np.ndarray, nesting: Nesting) -> SufficientStats:
    """W'W and inner-group sums of W = [X, y], collapsed by group size."""
    n, p = X.shape
    W = np.column_stack([X, y])
    cross = W.T @ W
    q = p + 1
    empty = SufficientStats(n, p, cross, np.zeros(0), np.zeros(0), np.zeros((0, q, q)),
                            None, None)
    if nesting.inner is None:
        return empty
    n_inner = int(nesting.inner.max()) + 1
    sums = group_sums(nesting.inner, W, n_inner)
    sizes, size_of = np.unique(np.bincount(nesting.inner, minlength=n_inner),
                               return_inverse=True)
    size_counts, size_cross = _by_size(sums, size_of, len(sizes))
    outer_sums = outer_counts = None
    if nesting.outer_of_inner is not None:
        n_outer = int(nesting.outer_of_inner.max()) + 1
        cell = nesting.outer_of_inner * len(sizes) + size_of
        outer_sums = group_sums(cell, sums, n_outer * len(sizes)).reshape(n_outer, -1, q)
        outer_counts = np.bincount(cell, minlength=n_outer * len(sizes)).reshape(n_outer, -1)
    return SufficientStats(n, p, cross, sizes.astype(float), size_counts.astype(float),
                           size_cross, outer_sums, outer_counts)


def _by_size(sums: np.ndarray, size_of: np.ndarray, n_sizes: int) -> tuple:
    """Counts and sums of outer products of the group sums, per size class."""
    order = np.argsort(size_of, kind="stable")
    bounds = np.searchsorted(size_of[order], np.arange(n_sizes + 1))
    ordered = sums[order]
    size_cross = np.stack(
        [ordered[a:b].T @ ordered[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    )
    return np.diff(bounds), size_cross


def weighted_cross(stats: SufficientStats, ratios: np.ndarray) -> tuple[np.ndarray, float]:
    """W'H^-1 W and log|H| for variance ratios (outermost first)."""
    if stats.n_ratios == 0:
        return stats.cross, 0.0
    g_in = ratios[-1]
    w = 1.0 / (1.0 + g_in * stats.sizes)  # H_inner^-1 1 = w 1 within a group
    Q = stats.cross - np.einsum("d,dab->ab", g_in * w, stats.size_cross)
    logdet = float(stats.size_counts @ np.log1p(g_in * stats.sizes))
    if stats.outer_sums is not None:
        g_out = ratios[0]
        s = stats.outer_counts @ (w * stats.sizes)  # 1'H_inner^-1 1 per outer group
        T = np.einsum("d,kdq->kq", w, stats.outer_sums)  # 1'H_inner^-1 W per outer group
        b = g_out / (1.0 + g_out * s)
        Q = Q - (T * b[:, None]).T @ T
        logdet += float(np.log1p(g_out * s).sum())
    return Q, logdet


def gls(stats: SufficientStats, ratios: np.ndarray) -> GLS:
    """Beta-hat, r'H^-1 r and the determinants at fixed variance ratios."""
    Q, logdet_h = weighted_cross(stats, ratios)
    p = stats.p
    chol = np.linalg.cholesky(Q[:p, :p])
    beta = cho_solve((chol, True), Q[:p, p])
    rss = float(Q[p, p] - Q[:p, p] @ beta)
    logdet_xhx = 2.0 * float(np.log(np.diag(chol)).sum())
    return GLS(beta, chol, rss, logdet_h, logdet_xhx)


def deviance_of(fit: GLS, n: int, p: int, reml: bool) -> float:
    """-2 log-likelihood (ML) or -2 restricted log-likelihood (REML), sigma2 profiled.

    Same criterion as lme4's: the REML one includes log|X'H^-1X| for the X it is given.
    """
    if fit.rss <= 0:
        return math.inf
    dof = n - p if reml else n
    dev = dof * (1.0 + math.log(2.0 * math.pi * fit.rss / dof)) + fit.logdet_h
    return dev + fit.logdet_xhx if reml else dev


def deviance(stats: SufficientStats, ratios: np.ndarray, reml: bool) -> float:
    """The profiled deviance as a function of the variance ratios."""
    return deviance_of(gls(stats, ratios), stats.n, stats.p, reml)
