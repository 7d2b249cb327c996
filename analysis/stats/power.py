"""The study's sample-size calculation: how many completers the cohort needs.

Fu et al. (2018) planned for a standardised difference of 0.40 on the PIH between baseline
and follow-up, power 0.95 and two-sided alpha 0.05, and state "at least 84 participants".
That figure is what a paired t-test (a one-sample t-test on each patient's change) gives:
n = 83.2, rounded up to 84. A two-sample t-test would need 164 per group and a normal
approximation 82, so the paired t-test is the calculation the study used, and the one made
here. It is computed with the noncentral t distribution (scipy), not with a look-up table,
so that a data manager can change any of the three inputs.

Not with statsmodels' TTestPower.power, which the tests compare with: its two-sided power
is NaN when the power is near 1 (the lower tail as nct.cdf, NaN deep in that tail), so a
search for the smallest n overshoots, e.g. 1151 completers instead of 158 at d = 0.4,
power 0.95, alpha 0.001 (statsmodels 0.15, scipy 1.17; analysis/tests/test_power.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

# A cohort larger than this is not a sample-size question any more; it bounds the search.
MAX_N = 1_000_000

METHOD = ("Paired t-test (one-sample t-test on each completer's change from baseline), "
          "two-sided, computed from the noncentral t distribution.")


def paired_t_power(*, n: int, standardised_difference: float, alpha: float) -> float:
    """Power of a two-sided paired t-test with n pairs to detect the standardised difference.

    The change's mean over its SD is d; the test statistic is noncentral t with n - 1
    degrees of freedom and noncentrality d * sqrt(n). Both tails count, as in statsmodels'
    TTestPower.
    """
    if n < 2:
        raise ValueError("A paired t-test needs at least 2 pairs.")
    df = n - 1
    noncentrality = standardised_difference * math.sqrt(n)
    critical = stats.t.ppf(1 - alpha / 2, df)
    upper = stats.nct.sf(critical, df, noncentrality)
    # P(T < -c | nc) = P(T > c | -nc): scipy's cdf returns NaN deep in the lower tail.
    lower = stats.nct.sf(critical, df, -noncentrality)
    return float(upper + lower)


def _validate(standardised_difference: float, power: float, alpha: float) -> None:
    errors = []
    if not standardised_difference > 0:
        errors.append("standardised difference must be greater than 0")
    if not 0 < power < 1:
        errors.append("power must be between 0 and 1")
    if not 0 < alpha < 1:
        errors.append("alpha must be between 0 and 1")
    if errors:
        message = "; ".join(errors) + "."
        raise ValueError(message[0].upper() + message[1:])


def required_completers(*, standardised_difference: float, power: float, alpha: float) -> int:
    """Smallest number of completers whose paired t-test reaches the requested power."""
    _validate(standardised_difference, power, alpha)

    def enough(n: int) -> bool:
        return paired_t_power(n=n, standardised_difference=standardised_difference,
                              alpha=alpha) >= power

    # Power rises with n: bisect between 2 and the first power of two that is enough.
    low, high = 2, 2
    while not enough(high):
        low, high = high, high * 2
        if high > MAX_N:
            raise ValueError("The difference is too small: more than "
                             f"{MAX_N:,} completers would be needed.")
    if enough(low):
        return low
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


@dataclass(frozen=True)
class SampleSize:
    """A sample-size calculation with its inputs, as shown on the dashboard."""

    standardised_difference: float
    power: float
    alpha: float
    completers: int
    achieved_power: float
    method: str = METHOD

    def recruits_needed(self, *, followup_rate: float | None) -> int | None:
        """Patients to recruit so that, at the observed follow-up rate, enough complete."""
        if not followup_rate:
            return None
        return math.ceil(self.completers / followup_rate)


def sample_size(*, standardised_difference: float, power: float, alpha: float) -> SampleSize:
    completers = required_completers(standardised_difference=standardised_difference,
                                     power=power, alpha=alpha)
    achieved = paired_t_power(n=completers, standardised_difference=standardised_difference,
                              alpha=alpha)
    return SampleSize(standardised_difference, power, alpha, completers, achieved)
