"""The precision at which the cohort files write each score (the codebook states it).

Scores are stored as doubles at full precision (INSTRUMENTS.md) and carry float noise
(25/3 is stored as 8.333333333333334, a prorated score can be 8.333333333333343). The
files write each score as a decimal with SCORE_DECIMALS[code] places, the same digits in
the cohort CSV, the wide file and the .dta:

1. the double is read to 15 significant digits (all a double holds reliably; it drops the
   noise: 3.1249999999999996 becomes 3.125);
2. that decimal is rounded half away from zero (3.125 -> 3.13).

PostgreSQL's float8 -> numeric cast does step 1 and its round(numeric, n) step 2, so the
COPY export (writer_sql.py) writes exactly these digits.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from ..instruments import SCORE_CODES

# Two decimals for every score: finer than any change a study reports (the smallest
# clinically important change is 1 point on BPI interference, INSTRUMENTS.md) and exact
# for every BPI severity mean (quarters).
SCORE_DECIMALS: dict[str, int] = {code: 2 for code in SCORE_CODES}
SIGNIFICANT_DIGITS = 15

_QUANTUM = {places: Decimal(1).scaleb(-places) for places in set(SCORE_DECIMALS.values())}


def score_decimal(value: float | None, places: int) -> Decimal | None:
    """A stored score as the decimal the files write; None stays None."""
    if value is None:
        return None
    read = Decimal(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return read.quantize(_QUANTUM[places], rounding=ROUND_HALF_UP)


def score_text(value: float | None, places: int) -> str | None:
    """A stored score as the text of its cell ("8.33", "44.00"); None for missing."""
    rounded = score_decimal(value, places)
    return None if rounded is None else str(rounded)


def precision_text(code: str) -> str:
    """The codebook's sentence on a score's precision."""
    return (f"Written with {SCORE_DECIMALS[code]} decimals: the stored double read to "
            f"{SIGNIFICANT_DIGITS} significant digits, then rounded half away from zero.")
