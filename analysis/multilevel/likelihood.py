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
from scipy import sparse
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
    """Column sums of `values` (n, q) within groups 0..n_groups-1 (one sparse product,
    faster than a bincount per column)."""
    n = len(codes)
    indicator = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_groups, n))
    return np.asarray(indicator @ values)


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


@dataclass(frozen=True)
class Blocks:
    """The per-size and per-outer-group quantities H^-1 is made of, at given ratios."""

    w: np.ndarray  # (D,) 1 / (1 + g_in m): H_inner^-1 1 = w 1 within an inner group
    s: np.ndarray | None  # (K,) 1'H_inner^-1 1 per outer group
    T: np.ndarray | None  # (K, q) 1'H_inner^-1 W per outer group
    b: np.ndarray | None  # (K,) g_out / (1 + g_out s)


def blocks(stats: SufficientStats, ratios: np.ndarray) -> Blocks:
    w = 1.0 / (1.0 + ratios[-1] * stats.sizes)
    if stats.outer_sums is None:
        return Blocks(w, None, None, None)
    g_out = ratios[0]
    s = stats.outer_counts @ (w * stats.sizes)
    T = np.einsum("d,kdq->kq", w, stats.outer_sums)
    return Blocks(w, s, T, g_out / (1.0 + g_out * s))


def weighted_cross(stats: SufficientStats, ratios: np.ndarray) -> tuple[np.ndarray, float]:
    """W'H^-1 W and log|H| for variance ratios (outermost first)."""
    if stats.n_ratios == 0:
        return stats.cross, 0.0
    g_in, parts = ratios[-1], blocks(stats, ratios)
    Q = stats.cross - np.einsum("d,dab->ab", g_in * parts.w, stats.size_cross)
    logdet = float(stats.size_counts @ np.log1p(g_in * stats.sizes))
    if parts.T is not None:
        Q = Q - (parts.T * parts.b[:, None]).T @ parts.T
        logdet += float(np.log1p(ratios[0] * parts.s).sum())
    return Q, logdet


def derivatives(stats: SufficientStats, ratios: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """dQ/dg and d log|H|/dg per ratio (outermost first), Q = W'H^-1 W.

    dH/dg_k = Z_k Z_k', so dQ/dg_k = -A_k'A_k with A_k the rows 1_j'H^-1 W over the groups
    j of level k, and d log|H|/dg_k = sum_j 1_j'H^-1 1_j. For an outer group these rows are
    T / (1 + g_out s); for an inner group of size m in outer group k, w (S - m b_k T_k).
    Summed over the groups, the S S' part needs only the per-size sums of S S', and the
    rest the per-(outer group, size) sums of S, so the cost does not grow with n.
    """
    parts = blocks(stats, ratios)
    w2 = parts.w**2
    dQ_in = -np.einsum("d,dab->ab", w2, stats.size_cross)
    dlog_in = float(stats.size_counts @ (parts.w * stats.sizes))
    if parts.T is None:
        return [(dQ_in, dlog_in)]
    T, b, c = parts.T, parts.b, 1.0 / (1.0 + ratios[0] * parts.s)
    dQ_out = -(T * c[:, None] ** 2).T @ T
    dlog_out = float(parts.s @ c)
    V = np.einsum("d,kdq->kq", w2 * stats.sizes, stats.outer_sums)  # sum w^2 m S per group
    r = stats.outer_counts @ (w2 * stats.sizes**2)  # sum (w m)^2 per outer group
    cross_vt = (V * b[:, None]).T @ T
    dQ_in = dQ_in + cross_vt + cross_vt.T - (T * (b**2 * r)[:, None]).T @ T
    dlog_in -= float(b @ r)
    return [(dQ_out, dlog_out), (dQ_in, dlog_in)]


def deviance_gradient(stats: SufficientStats, ratios: np.ndarray, reml: bool) -> np.ndarray:
    """d deviance / d ratio, analytic (see `derivatives`); the profiled beta needs no
    derivative of its own because the rss is minimal in beta (envelope theorem)."""
    fit = gls(stats, ratios)
    p = stats.p
    u = np.append(-fit.beta, 1.0)
    dof = stats.n - p if reml else stats.n
    grad = []
    for dQ, dlog in derivatives(stats, ratios):
        d = dof / fit.rss * float(u @ dQ @ u) + dlog
        if reml:
            d += float(np.trace(cho_solve((fit.chol, True), dQ[:p, :p])))
        grad.append(d)
    return np.array(grad)


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
