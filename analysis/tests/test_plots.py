"""Server-side SVG plots: well-formed, labelled for assistive technology, data correct."""
import xml.etree.ElementTree as ET

import pytest

from analysis.pages.plots import change_plot, forest_plot, recruitment_plot

SVG = "{http://www.w3.org/2000/svg}"
TERMS = [
    {"term": "Intercept", "label": "Intercept", "coef": 40.0, "ci_low": 30.0, "ci_high": 50.0,
     "p": 0.0001},
    {"term": "partnership", "label": "Partnership (PPiC)", "coef": 1.47, "ci_low": 1.10,
     "ci_high": 1.84, "p": 1e-12, "reference": None},
    {"term": "years_ge8", "label": ">= 8 years of pain", "reference": "<= 4 years",
     "coef": -2.0, "ci_low": -6.0, "ci_high": 2.0, "p": 0.32},
]


def _parse(plot):
    return ET.fromstring(str(plot.svg))


def test_forest_plot_is_well_formed_svg_with_title_and_description():
    plot = forest_plot(key="f", outcome="PIH knowledge", terms=TERMS)
    root = _parse(plot)
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == title.get("id")
    assert root.get("aria-describedby") == desc.get("id")
    assert "Partnership (PPiC): 1.47 (95 % CI 1.10 to 1.84), p < 0.001" in desc.text.replace(
        "\u00a0", " ")


def test_forest_plot_leaves_out_the_intercept_and_escapes_labels():
    plot = forest_plot(key="f", outcome="PIH knowledge", terms=TERMS)
    labels = ["".join(t.itertext()) for t in _parse(plot).iter(f"{SVG}text")]
    # parsed back from &gt; &lt; (wrapped onto lines: one <tspan> each)
    assert ">= 8 years of pain (ref. <= 4 years)" in [
        " ".join(t.text for t in text.iter(f"{SVG}tspan")) for text in
        _parse(plot).iter(f"{SVG}text")]
    assert not any("Intercept" in label for label in labels)
    assert [row[0] for row in plot.rows] == ["Partnership (PPiC)",
                                             ">= 8 years of pain (ref. <= 4 years)"]


def test_forest_plot_draws_each_coefficient_on_the_axis_scale():
    plot = forest_plot(key="f", outcome="O", terms=TERMS)
    root = _parse(plot)
    zero = next(line for line in root.iter(f"{SVG}line") if line.get("class") == "plot-zero")
    squares = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "plot-point"]
    centres = [float(r.get("x")) + 4 for r in squares]
    zero_x = float(zero.get("x1"))
    # partnership (1.47) right of zero, >= 8 years (-2.0) left of it, in proportion.
    assert centres[0] > zero_x > centres[1]
    assert (centres[0] - zero_x) / (zero_x - centres[1]) == pytest.approx(1.47 / 2.0, rel=0.01)


def test_change_plot_describes_means_change_and_ci():
    plot = change_plot(key="c", label="Partnership", n=103, baseline=(37.8, 8.6),
                       followup=(45.1, 6.8), scale=(11, 55),
                       change={"mean_change": 7.3, "ci_low": 5.7, "ci_high": 8.9,
                               "p": 1e-14, "test": "Paired t-test"})
    desc = _parse(plot).find(f"{SVG}desc").text
    assert "baseline mean 37.8 (SD 8.6)" in desc
    assert "follow-up mean 45.1 (SD 6.8)" in desc
    assert "mean change 7.3 (95 % CI 5.7 to 8.9)" in desc
    assert "n = 103" in desc
    circles = list(_parse(plot).iter(f"{SVG}circle"))
    # Higher mean is drawn higher (smaller y).
    assert float(circles[1].get("cy")) < float(circles[0].get("cy"))


def test_recruitment_plot_accumulates_by_month_and_marks_the_target():
    plot = recruitment_plot(months=["2025-01", "2025-02", "2025-03"], recruited=[5, 0, 7],
                            completed=[0, 3, 4], target=84)
    assert [row[2] for row in plot.rows] == ["5", "5", "12"]
    assert [row[4] for row in plot.rows] == ["0", "3", "7"]
    assert "12 recruited, 7 follow-ups complete, against a target of 84" in plot.description
    assert any("Target: 84" in (t.text or "") for t in _parse(plot).iter(f"{SVG}text"))


def test_recruitment_plot_without_patients_says_so():
    plot = recruitment_plot(months=[], recruited=[], completed=[], target=84)
    assert plot.description == "No patients recruited yet."
    _parse(plot)
