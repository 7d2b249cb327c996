"""From a data frame and a formula to y and X: listwise deletion, patsy, scaling, rank."""
from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import patsy

from .result import FitError

# Eigenvalues of the scaled cross-product below this fraction of the largest mean the
# design is singular for practical purposes (condition number of X above ~1e5 after
# centring and scaling every column).
COLLINEARITY_TOL = 1e-10
# Loadings of a near-null vector above this name a term as part of the collinearity.
LOADING_TOL = 0.01


@dataclass(frozen=True)
class Design:
    """Outcome, fixed-effects design and the complete rows they came from."""

    y: np.ndarray
    X: np.ndarray
    terms: list[str]
    frame: pd.DataFrame


@dataclass(frozen=True)
class Scaling:
    """Xs = X @ transform and ys = y - y_shift.

    Centring and scaling keeps the sums of squares (and their differences, which is how
    the likelihood is evaluated) well conditioned. With an intercept in the model this is
    a reparametrisation: beta = transform @ beta_s, plus y_shift on the intercept.
    """

    transform: np.ndarray
    intercept: int | None
    y_shift: float
    log_abs_det: float

    def coefficients(self, beta_s: np.ndarray) -> np.ndarray:
        beta = self.transform @ beta_s
        if self.intercept is not None:
            beta[self.intercept] += self.y_shift
        return beta

    def covariance(self, cov_s: np.ndarray) -> np.ndarray:
        return self.transform @ cov_s @ self.transform.T


def build_design(
    data: pd.DataFrame, formula: str, levels: Sequence[str], eval_env: patsy.EvalEnvironment
) -> Design:
    """Drop rows missing any used variable, then let patsy build y and X."""
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    missing = [name for name in levels if name not in frame.columns]
    if missing:
        raise FitError(f"level column(s) not in the data: {', '.join(missing)}")
    try:
        desc = patsy.ModelDesc.from_formula(formula)
    except patsy.PatsyError as exc:
        raise FitError(f"cannot parse formula {formula!r}: {exc}") from exc
    if not desc.lhs_termlist:
        raise FitError(f"formula {formula!r} has no outcome; write it as 'y ~ x1 + x2'")
    used = _formula_columns(desc, frame.columns)
    complete = frame.loc[:, list(dict.fromkeys([*used, *levels]))].dropna()
    if complete.empty:
        raise FitError("no rows are complete in the variables of the model")
    plain = _plain_sum(desc, complete)
    if plain is not None:
        return _checked(formula, *plain, complete)
    complete = _as_categories(complete, used)
    # NAs are gone already; NA_types=[] also spares patsy a per-value NaN check.
    try:
        y, X = patsy.dmatrices(
            desc, complete, eval_env=eval_env, NA_action=patsy.NAAction(NA_types=[])
        )
    except patsy.PatsyError as exc:
        raise FitError(f"cannot build the design for {formula!r}: {exc}") from exc
    if y.shape[1] != 1:
        raise FitError(f"the outcome of {formula!r} must be one numeric column")
    terms = list(X.design_info.column_names)
    y, X = np.asarray(y, dtype=float)[:, 0], np.asarray(X, dtype=float)
    return _checked(formula, y, X, terms, complete)


def _checked(formula: str, y: np.ndarray, X: np.ndarray, terms: list[str],
             complete: pd.DataFrame) -> Design:
    _reject_columns(terms, ~np.isfinite(X).all(axis=0), "cannot fit: {names} has infinite values")
    if not np.isfinite(y).all():
        raise FitError(f"the outcome of {formula!r} has infinite values")
    return Design(y=y, X=X, terms=terms, frame=complete)


def _plain_sum(desc: patsy.ModelDesc, complete: pd.DataFrame) -> tuple | None:
    """y, X and term names straight from the columns when the formula is a plain sum of
    numeric column names ("y ~ a + b", as Table 2's are), else None (patsy builds it).

    patsy would give the same matrix (intercept first, then the terms as written) but
    spends most of a national-scale fit doing so.
    """
    names = []
    for term in [*desc.lhs_termlist, *desc.rhs_termlist]:
        if not term.factors:
            continue  # the intercept
        code = getattr(term.factors[0], "code", None)
        if len(term.factors) != 1 or code not in complete.columns or not _numeric(complete[code]):
            return None
        names.append(code)
    if len(desc.lhs_termlist) != 1 or len(names) != len(set(names)):
        return None
    intercept = patsy.INTERCEPT in desc.rhs_termlist
    y = complete[names[0]].to_numpy(dtype=float)
    X = complete[names[1:]].to_numpy(dtype=float)
    if intercept:
        X = np.column_stack([np.ones(len(complete)), X])
    return y, X, ["Intercept", *names[1:]] if intercept else names[1:]


def _numeric(column: pd.Series) -> bool:
    """A column patsy treats as numeric: numbers, not booleans or categories."""
    dtype = column.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _formula_columns(desc: patsy.ModelDesc, columns: Iterable[object]) -> list[str]:
    """Data columns the formula refers to, by name or through Q('...')."""
    available = set(columns)
    found: list[str] = []
    for term in [*desc.lhs_termlist, *desc.rhs_termlist]:
        for factor in term.factors:
            code = getattr(factor, "code", None) or factor.name()
            for node in ast.walk(ast.parse(code, mode="eval")):
                found.extend(_names_in(node, available))
    return list(dict.fromkeys(found))


def _names_in(node: ast.AST, available: set[object]) -> list[str]:
    if isinstance(node, ast.Name) and node.id in available:
        return [node.id]
    is_q = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Q"
    if is_q and node.args and isinstance(node.args[0], ast.Constant):
        name = node.args[0].value
        return [name] if name in available else []
    return []


def _as_categories(frame: pd.DataFrame, used: Sequence[str]) -> pd.DataFrame:
    """Text columns as pandas categoricals (patsy codes those without a Python loop)."""
    frame = frame.copy()
    for name in used:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            # a category with no complete row would give an all-zero dummy column
            frame[name] = column.cat.remove_unused_categories()
        elif column.dtype == object or isinstance(column.dtype, pd.StringDtype):
            frame[name] = column.astype("category")
    return frame


def standardise(X: np.ndarray, y: np.ndarray, terms: Sequence[str]) -> tuple:
    """Centre and scale the columns of X (and centre y) when the model has an intercept.

    Returns (Xs, ys, Scaling). Raises FitError for constant or all-zero columns.
    """
    n, p = X.shape
    if n <= p:
        raise FitError(f"only {n} complete rows for {p} fixed-effect terms")
    intercept = _intercept_column(X)
    if intercept is None:
        centre, shift = np.zeros(p), 0.0
        scale = np.sqrt(np.mean(X**2, axis=0))
        _reject_columns(terms, scale == 0, "singular design: {names} is zero in every complete row")
    else:
        centre, shift = X.mean(axis=0), float(y.mean())
        centre[intercept] = 0.0
        scale = X.std(axis=0)
        scale[intercept] = 1.0
        constant = (X == X[0]).all(axis=0)
        constant[intercept] = False
        _reject_columns(
            terms, constant,
            f"singular design: {{names}} does not vary in the {n} complete rows, so it is "
            "collinear with the intercept",
        )
    transform = np.diag(1.0 / scale)
    if intercept is not None:
        transform[intercept] = -centre / scale
        transform[intercept, intercept] = 1.0
    Xs = (X - centre) / scale
    return Xs, y - shift, Scaling(transform, intercept, shift, float(-np.log(scale).sum()))


def _intercept_column(X: np.ndarray) -> int | None:
    ones = np.flatnonzero(np.all(X == 1.0, axis=0))
    return int(ones[0]) if ones.size else None


def _reject_columns(terms: Sequence[str], bad: np.ndarray, message: str) -> None:
    """Raise FitError with `message`, its {names} filled with the terms flagged `bad`."""
    if bad.any():
        raise FitError(message.format(names=", ".join(terms[j] for j in np.flatnonzero(bad))))


def check_rank(gram: np.ndarray, terms: Sequence[str]) -> None:
    """Raise FitError naming the terms involved if the scaled X'X is (nearly) singular."""
    values, vectors = np.linalg.eigh(gram)
    small = values < COLLINEARITY_TOL * values.max()
    if not small.any():
        return
    loadings = np.abs(vectors[:, small]).max(axis=1)
    names = ", ".join(terms[j] for j in np.flatnonzero(loadings > LOADING_TOL))
    raise FitError(
        f"singular design: the terms {names} are collinear (some combination of them is "
        "constant or zero); drop or combine terms"
    )
