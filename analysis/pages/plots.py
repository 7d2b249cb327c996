"""Server-side SVG plots: forest plot, baseline against follow-up, recruitment over time.

Plain SVG markup built here, so the plots show without JavaScript, under a strict
content-security policy (no inline styles: presentation attributes and CSS classes from
dashboard.css only) and print as crisp vectors in black and grey. Every plot carries a
<title> and <desc> referenced by aria-labelledby / aria-describedby, and comes with a
data table for anyone who prefers (or needs) the numbers.
"""
from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from ..stats.results import format_p

_ids = itertools.count(1)
# Every label at least 14 px at the size the plot is drawn (issue 14: 10-12 px was too
# small); each SVG is laid out at the width the dashboard shows it, so 1 unit = 1 CSS px.
FONT = 14
HEADING_FONT = 15
LINE = 18                  # baseline-to-baseline distance of wrapped 14 px labels


@dataclass
class Plot:
    """An SVG with its text alternative and the data it shows."""

    key: str
    title: str
    description: str
    svg: SafeString
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    caption: str = ""          # short visible caption; the full text is in <desc>

    def __post_init__(self) -> None:
        self.caption = self.caption or self.description


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    return text.replace("-", "−") if text.startswith("-") else text


def _svg(width: int, height: int, title: str, description: str, body: list[str]) -> SafeString:
    number = next(_ids)
    title_id, desc_id = f"plot-title-{number}", f"plot-desc-{number}"
    return mark_safe(  # noqa: S308 -- every text inside went through escape()
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{title_id}" aria-describedby="{desc_id}">'
        f'<title id="{title_id}">{escape(title)}</title>'
        f'<desc id="{desc_id}">{escape(description)}</desc>' + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", css: str = "plot-label",
          size: int = FONT) -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'class="{css}" fill="#000">{escape(text)}</text>')


def _lines_text(x: float, y: float, lines: Sequence[str], anchor: str = "end",
                css: str = "plot-label") -> str:
    """One <text> whose lines are <tspan>s, the block centred vertically on y."""
    first = y + 5 - LINE * (len(lines) - 1) / 2
    spans = "".join(f'<tspan x="{x:.1f}" y="{first + LINE * i:.1f}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return (f'<text text-anchor="{anchor}" font-size="{FONT}" class="{css}" '
            f'fill="#000">{spans}</text>')


def _y_title(x: float, y: float, text: str) -> str:
    """A y-axis title, turned to read bottom to top, centred on (x, y)."""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" font-size="{FONT}" '
            f'transform="rotate(-90 {x:.1f} {y:.1f})" class="plot-axis-title '
            f'plot-axis-title--y" fill="#000">{escape(text)}</text>')


def _x_title(x: float, y: float, text: str) -> str:
    return _text(x, y, text, "middle", "plot-axis-title plot-axis-title--x")


def _line(x1: float, y1: float, x2: float, y2: float, css: str = "plot-line",
          stroke: str = "#000", width: float = 1, dash: str = "") -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" class="{css}" '
            f'stroke="{stroke}" stroke-width="{width}"{dashed}/>')


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = (low // step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        if value >= low - step * 1e-9:
            ticks.append(round(value, 10))
        value += step
    return ticks


def _tick_text(value: float) -> str:
    """A tick label as short as it can be (20, 2.5), with a true minus sign."""
    text = f"{value:g}"
    return "\u2212" + text[1:] if text.startswith("-") else text


def _term_label(term: dict) -> str:
    label = term.get("label") or term["term"]
    return label + (f" (ref. {term['reference']})" if term.get("reference") else "")


# --- forest plot ----------------------------------------------------------------------

def forest_plot(*, key: str, outcome: str, terms: Sequence[dict]) -> Plot:
    """Coefficients with 95 % CIs, one row per term (intercept left out), zero marked.

    Term labels wrap at 27 characters, so the plot keeps the 500 px the dashboard gives
    it (two side by side) with 14 px text.
    """
    terms = [t for t in terms if t.get("term") != "Intercept" and t.get("coef") is not None]
    left, label_width, plot_width, top = 26, 256, 224, 34
    width = label_width + plot_width + 20
    labels = [_term_label(term) for term in terms]
    wrapped = [textwrap.wrap(label, 27) or [label] for label in labels]
    heights = [LINE * len(lines) + 10 for lines in wrapped]
    bottom = top + (sum(heights) or 24)
    height = bottom + 56
    values = [v for t in terms for v in (t.get("ci_low"), t.get("ci_high"), t["coef"])
              if v is not None] or [0.0]
    low, high = min(0.0, *values), max(0.0, *values)
    pad = (high - low) * 0.05 or 1
    low, high = low - pad, high + pad

    def x(value: float) -> float:
        return label_width + (value - low) / (high - low) * plot_width

    body = [_text(width / 2, 20, outcome, "middle", "plot-heading", HEADING_FONT),
            _y_title(left / 2 + 2, (top + bottom) / 2, "Term"),
            _x_title(label_width + plot_width / 2, bottom + 46, "Coefficient (95 % CI)")]
    body.append(_line(x(0), top - 6, x(0), bottom, "plot-zero", "#555", 1, "4 3"))
    for tick in _nice_ticks(low, high, 4):
        body.append(_line(x(tick), bottom, x(tick), bottom + 4, "plot-axis"))
        body.append(_text(x(tick), bottom + 20, _tick_text(tick), "middle",
                          "plot-tick plot-tick--x"))
    body.append(_line(label_width, bottom, label_width + plot_width, bottom, "plot-axis"))
    rows, y_top = [], top
    for term, label, lines, row_height in zip(terms, labels, wrapped, heights, strict=True):
        y = y_top + row_height / 2
        y_top += row_height
        body.append(_lines_text(label_width - 8, y, lines))
        if term.get("ci_low") is not None and term.get("ci_high") is not None:
            body.append(_line(x(term["ci_low"]), y, x(term["ci_high"]), y, "plot-ci",
                              "#000", 1.5))
        body.append(f'<rect x="{x(term["coef"]) - 4:.1f}" y="{y - 4:.1f}" width="8" '
                    f'height="8" class="plot-point" fill="#000"/>')
        rows.append([label, fmt(term["coef"]), fmt(term.get("ci_low")),
                     fmt(term.get("ci_high")), format_p(term.get("p"))])
    description = f"Forest plot for {outcome}. " + "; ".join(
        f"{r[0]}: {r[1]} (95 % CI {r[2]} to {r[3]}), p {r[4]}" for r in rows) + "."
    title = f"{outcome}: coefficients with 95 % confidence intervals"
    first = rows[0] if rows else None
    caption = ("Squares: coefficients; lines: 95 % CIs; dashed line: no association."
               + (f" {first[0]}: {first[1]} ({first[2]} to {first[3]})." if first else ""))
    return Plot(key, title, description, _svg(width, height, title, description, body),
                ["Term", "Coefficient", "95 % CI low", "95 % CI high", "p"], rows, caption)


# --- baseline against follow-up -------------------------------------------------------

def change_plot(*, key: str, label: str, n: int | None, baseline: tuple[float, float | None],
                followup: tuple[float, float | None], scale: tuple[float, float],
                change: dict) -> Plot:
    """Baseline and follow-up means (with ±1 SD bars) joined by a line, on the score's scale.

    baseline / followup: (mean, sd); change: the stored paired change (mean, CI, p).
    """
    width, height, left, right, top, bottom = 300, 290, 70, 20, 36, 48
    low, high = scale

    def y(value: float) -> float:
        return top + (high - value) / (high - low) * (height - top - bottom)

    xs = (left + 50, width - right - 50)
    body = [_text(width / 2, 20, label, "middle", "plot-heading", HEADING_FONT),
            _y_title(16, (top + height - bottom) / 2, "Mean score (±1 SD)")]
    body.append(_line(left, top, left, height - bottom, "plot-axis"))
    # five intervals: PPiC (11-55) gets 20, 30, 40, 50; the PIH scores (0-100) every 20
    for tick in _nice_ticks(low, high, 5):
        body.append(_line(left - 4, y(tick), left, y(tick), "plot-axis"))
        body.append(_text(left - 8, y(tick) + 5, _tick_text(tick), "end",
                          "plot-tick plot-tick--y"))
    points = []
    for xpos, (mean, sd), name in zip(xs, (baseline, followup), ("Baseline", "Follow-up"),
                                      strict=True):
        body.append(_text(xpos, height - bottom + 24, name, "middle",
                          "plot-tick plot-tick--x"))
        if mean is None:
            continue
        if sd is not None:
            top_value, bottom_value = min(high, mean + sd), max(low, mean - sd)
            body.append(_line(xpos, y(top_value), xpos, y(bottom_value), "plot-ci", "#555", 1.5))
            for edge in (top_value, bottom_value):
                body.append(_line(xpos - 5, y(edge), xpos + 5, y(edge), "plot-ci", "#555", 1.5))
        points.append((xpos, y(mean)))
    if len(points) == 2:
        body.append(_line(*points[0], *points[1], "plot-pair", "#000", 2))
    body.extend(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="5" class="plot-point" fill="#000"/>'
                for px, py in points)
    description = (
        f"{label}: baseline mean {fmt(baseline[0], 1)} (SD {fmt(baseline[1], 1)}), follow-up "
        f"mean {fmt(followup[0], 1)} (SD {fmt(followup[1], 1)}); mean change "
        f"{fmt(change.get('mean_change'), 1)} (95 % CI {fmt(change.get('ci_low'), 1)} to "
        f"{fmt(change.get('ci_high'), 1)}), {change.get('test') or 'paired test'} p "
        f"{format_p(change.get('p'))}, n = {n if n is not None else '–'} completers.")
    title = f"{label}: baseline against follow-up"
    rows = [[label, fmt(baseline[0], 1), fmt(baseline[1], 1), fmt(followup[0], 1),
             fmt(followup[1], 1), fmt(change.get("mean_change"), 1),
             f"{fmt(change.get('ci_low'), 1)} to {fmt(change.get('ci_high'), 1)}",
             format_p(change.get("p"))]]
    caption = (f"Mean change {fmt(change.get('mean_change'), 1)} (95 % CI "
               f"{fmt(change.get('ci_low'), 1)} to {fmt(change.get('ci_high'), 1)}), p "
               f"{format_p(change.get('p'))}, n = {n if n is not None else '–'}.")
    return Plot(key, title, description, _svg(width, height, title, description, body),
                ["Score", "Baseline mean", "SD", "Follow-up mean", "SD", "Mean change",
                 "95 % CI", "p"], rows, caption)


# --- recruitment over time ------------------------------------------------------------

def recruitment_plot(*, months: Sequence[str], recruited: Sequence[int],
                     completed: Sequence[int], target: int | None) -> Plot:
    """Cumulative patients recruited and follow-ups completed by month, with the target."""
    width, height, left, right, top, bottom = 720, 300, 72, 180, 24, 64
    cumulative_recruited = list(itertools.accumulate(recruited))
    cumulative_completed = list(itertools.accumulate(completed))
    top_value = max([*cumulative_recruited, *cumulative_completed, target or 0, 1])
    count = max(len(months), 1)

    def x(index: int) -> float:
        return left + (index + 0.5) / count * (width - left - right)

    def y(value: float) -> float:
        return top + (1 - value / top_value) * (height - top - bottom)

    body = [_line(left, top, left, height - bottom, "plot-axis"),
            _line(left, height - bottom, width - right, height - bottom, "plot-axis"),
            _y_title(18, (top + height - bottom) / 2, "Patients (cumulative)"),
            _x_title((left + width - right) / 2, height - 12, "Month")]
    for tick in _nice_ticks(0, top_value, 4):
        body.append(_line(left - 4, y(tick), left, y(tick), "plot-axis"))
        body.append(_text(left - 8, y(tick) + 5, f"{tick:g}", "end", "plot-tick plot-tick--y"))
    # a 14 px "2025-01" is about 60 px wide: at most one label per 80 px of axis
    step = max(1, math.ceil(len(months) / ((width - left - right) // 80)))
    for index, month in enumerate(months):
        if index % step == 0:
            body.append(_text(x(index), height - bottom + 22, month, "middle",
                              "plot-tick plot-tick--x"))
    if target:
        body.append(_line(left, y(target), width - right, y(target), "plot-target", "#555", 1,
                          "6 4"))
        body.append(_text(left + 6, y(target) - 6, f"Target: {target} completers"))
    ends = []
    for series, name, dash in ((cumulative_recruited, "Recruited", ""),
                               (cumulative_completed, "Follow-up complete", "3 3")):
        if not series:
            continue
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(v):.1f}"
                        for i, v in enumerate(series))
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        body.append(f'<path d="{path}" fill="none" stroke="#000" stroke-width="2" '
                    f'class="plot-series"{dashed}/>')
        ends.append([y(series[-1]) + 5, f"{name} {series[-1]}"])
    # the two end labels one line apart at least (close counts would print over each other)
    if len(ends) == 2 and abs(ends[0][0] - ends[1][0]) < LINE:
        upper, lower = sorted(ends)
        middle = (upper[0] + lower[0]) / 2
        upper[0], lower[0] = middle - LINE / 2, middle + LINE / 2
    body.extend(_text(width - right + 6, end_y, text) for end_y, text in ends)
    title = "Recruitment and follow-up over time"
    if months:
        description = (f"Cumulative counts by month from {months[0]} to {months[-1]}: "
                       f"{cumulative_recruited[-1]} recruited, {cumulative_completed[-1]} "
                       "follow-ups complete" + (f", against a target of {target} completers."
                                                if target else "."))
    else:
        description = "No patients recruited yet."
    rows = [[month, str(r), str(cr), str(c), str(cc)] for month, r, cr, c, cc in zip(
        months, recruited, cumulative_recruited, completed, cumulative_completed, strict=True)]
    return Plot("recruitment", title, description, _svg(width, height, title, description, body),
                ["Month", "Recruited", "Recruited (cumulative)", "Follow-ups complete",
                 "Follow-ups complete (cumulative)"], rows)


# --- model diagnostics (issue 19) -------------------------------------------------------

def _scatter_frame(*, width: int, height: int, left: int, right: int, top: int, bottom: int,
                   xs: Sequence[float], ys: Sequence[float], x_title: str, y_title: str,
                   heading: str) -> tuple[list[str], object, object]:
    """Axes, ticks and titles of a scatter; returns (body, x(), y()) for the points."""
    x_low, x_high = (min(xs), max(xs)) if xs else (0.0, 1.0)
    y_low, y_high = (min(ys), max(ys)) if ys else (0.0, 1.0)
    x_pad = (x_high - x_low) * 0.05 or 1.0
    y_pad = (y_high - y_low) * 0.05 or 1.0
    x_low, x_high, y_low, y_high = x_low - x_pad, x_high + x_pad, y_low - y_pad, y_high + y_pad

    def x(value: float) -> float:
        return left + (value - x_low) / (x_high - x_low) * (width - left - right)

    def y(value: float) -> float:
        return top + (y_high - value) / (y_high - y_low) * (height - top - bottom)

    body = [_text(width / 2, 20, heading, "middle", "plot-heading", HEADING_FONT),
            _line(left, top, left, height - bottom, "plot-axis"),
            _line(left, height - bottom, width - right, height - bottom, "plot-axis"),
            _y_title(16, (top + height - bottom) / 2, y_title),
            _x_title((left + width - right) / 2, height - 10, x_title)]
    for tick in _nice_ticks(x_low, x_high, 4):
        body.append(_line(x(tick), height - bottom, x(tick), height - bottom + 4, "plot-axis"))
        body.append(_text(x(tick), height - bottom + 20, _tick_text(tick), "middle",
                          "plot-tick plot-tick--x"))
    for tick in _nice_ticks(y_low, y_high, 4):
        body.append(_line(left - 4, y(tick), left, y(tick), "plot-axis"))
        body.append(_text(left - 8, y(tick) + 5, _tick_text(tick), "end",
                          "plot-tick plot-tick--y"))
    return body, x, y


def _circles(points: Sequence[Sequence[float]], x, y) -> list[str]:
    """Open circles in one group (the attributes once: up to 400 points a plot)."""
    return ['<g class="plot-point" fill="none" stroke="#000" stroke-width="1">',
            *(f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="2.5"/>' for a, b in points),
            "</g>"]


def residual_plot(*, key: str, outcome: str, residuals: dict) -> Plot:
    """Conditional residuals against fitted values, with the zero line (stored summary)."""
    width, height, left, right, top, bottom = 360, 300, 70, 16, 34, 52
    points = residuals.get("points") or []
    xs, ys = [p[0] for p in points], [p[1] for p in points] + [0.0]
    body, x, y = _scatter_frame(width=width, height=height, left=left, right=right, top=top,
                                bottom=bottom, xs=xs, ys=ys, x_title="Fitted value",
                                y_title="Residual", heading=outcome)
    body.append(_line(left, y(0), width - right, y(0), "plot-zero", "#555", 1, "4 3"))
    body.extend(_circles(points, x, y))
    n = residuals.get("n", len(points))
    shown = (f"{len(points)} of {n} residuals shown (the 40 largest and a random sample)"
             if residuals.get("sampled") else f"all {n} residuals")
    bins = residuals.get("bins") or []
    rows = [[f"{fmt(b['fitted_low'], 1)} to {fmt(b['fitted_high'], 1)}", str(b["n"]),
             fmt(b["mean"]), fmt(b["p05"]), fmt(b["p95"])] for b in bins]
    title = f"{outcome}: residuals against fitted values"
    description = (f"Scatter plot of conditional residuals (outcome minus fitted value, "
                   f"including the predicted clinic and patient effects) against fitted "
                   f"values for {outcome}; {shown}; residual SD "
                   f"{fmt(residuals.get('sigma'))}. By tenths of the fitted values, the "
                   "mean residual: " + "; ".join(f"{r[0]}: {r[2]}" for r in rows) + ".")
    caption = (f"Circles: {shown}; dashed line: 0. A pattern or a funnel suggests a "
               "mis-specified mean or unequal variances.")
    return Plot(key, title, description, _svg(width, height, title, description, body),
                ["Fitted values", "n", "Mean residual", "5th percentile", "95th percentile"],
                rows, caption)


QUARTILE_Z = 0.6744897501960817


def qq_plot(*, key: str, outcome: str, qq: dict) -> Plot:
    """Normal Q-Q plot of residuals or predicted effects, with the line through the quartiles."""
    width, height, left, right, top, bottom = 360, 300, 70, 16, 34, 52
    points = qq.get("points") or []
    label = qq.get("label", qq.get("key", ""))
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    body, x, y = _scatter_frame(width=width, height=height, left=left, right=right, top=top,
                                bottom=bottom, xs=xs, ys=ys, x_title="Normal quantile",
                                y_title=label.split(" (")[0], heading=f"{outcome}: {label}")
    line_text = ""
    if len(points) >= 2 and max(ys) > min(ys):
        low, high = (_interp(-QUARTILE_Z, xs, ys), _interp(QUARTILE_Z, xs, ys))
        slope = (high - low) / (2 * QUARTILE_Z)
        middle = (low + high) / 2
        ends = [min(xs), max(xs)]
        body.append(_line(x(ends[0]), y(middle + slope * ends[0]), x(ends[1]),
                          y(middle + slope * ends[1]), "plot-zero", "#555", 1, "4 3"))
        line_text = "; dashed line: through the quartiles"
    body.extend(_circles(points, x, y))
    n = qq.get("n", len(points))
    every = "every value" if len(points) == n else f"{len(points)} quantiles of {n} values"
    zero = bool(qq.get("zero"))
    step = max(1, math.ceil(len(points) / 11))
    rows = [[fmt(a), fmt(b)] for a, b in points[::step]]
    title = f"{outcome}: normal Q-Q plot of the {label.lower()}"
    description = (f"Normal quantile-quantile plot of the {label.lower()} for {outcome} "
                   f"({every}, SD {fmt(qq.get('sd'))}). "
                   + ("The variance is estimated at 0, so every predicted effect is 0. "
                      if zero else "")
                   + "Points near a straight line mean the values look normal.")
    caption = (f"Circles: {every}{line_text}." +
               (" Variance estimated at 0: every predicted effect is 0." if zero else ""))
    return Plot(key, title, description, _svg(width, height, title, description, body),
                ["Normal quantile", "Value"], rows, caption)


def _interp(at: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    """Linear interpolation of ys at `at` (xs increasing), clamped at the ends."""
    if at <= xs[0]:
        return ys[0]
    for (x0, y0), (x1, y1) in itertools.pairwise(zip(xs, ys, strict=True)):
        if x0 <= at <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (at - x0) / (x1 - x0)
    return ys[-1]
