"""Issue 14 (researchers): plot text at least 14 px, axis titles, readable ticks."""
import xml.etree.ElementTree as ET

import pytest

from analysis.pages.plots import change_plot, forest_plot, recruitment_plot

SVG = "{http://www.w3.org/2000/svg}"
TERMS = [{"term": "partnership", "label": "Partnership (PPiC)", "coef": 1.47, "ci_low": 1.10,
          "ci_high": 1.84, "p": 1e-12},
         {"term": "qual_a", "label": "A level and above", "reference": "no qualifications",
          "coef": -3.1, "ci_low": -12.6, "ci_high": 6.4, "p": 0.5}]
CHANGE = {"mean_change": 5.0, "ci_low": 2.1, "ci_high": 8.0, "p": 0.001, "test": "Paired t"}


def _plots():
    return [
        forest_plot(key="f", outcome="PIH overall (general index)", terms=TERMS),
        change_plot(key="c", label="Partnership (PPiC)", n=29, baseline=(37.5, 6.0),
                    followup=(42.4, 5.0), scale=(11, 55), change=CHANGE),
        change_plot(key="k", label="PIH knowledge", n=29, baseline=(58.0, 13.0),
                    followup=(65.0, 13.0), scale=(0, 100), change=CHANGE),
        recruitment_plot(months=[f"2025-{m:02d}" for m in range(1, 13)],
                         recruited=[3] * 12, completed=[0, 0, 0] + [3] * 9, target=84),
    ]


@pytest.mark.parametrize("index", range(4))
def test_every_text_is_at_least_14_units_and_drawn_at_its_own_width(index):
    plot = _plots()[index]
    root = ET.fromstring(str(plot.svg))
    sizes = [float(t.get("font-size")) for t in root.iter(f"{SVG}text")]
    assert sizes and min(sizes) >= 14
    # the SVG's width equals its viewBox width: 1 unit is 1 CSS px where it is not shrunk
    assert root.get("viewBox").split()[2] == root.get("width")


@pytest.mark.parametrize("index", range(4))
def test_every_plot_has_a_y_axis_title_turned_upright(index):
    root = ET.fromstring(str(_plots()[index].svg))
    titles = [t for t in root.iter(f"{SVG}text")
              if "plot-axis-title--y" in (t.get("class") or "")]
    assert len(titles) == 1 and titles[0].text.strip()
    assert titles[0].get("transform", "").startswith("rotate(-90")


def test_forest_and_recruitment_plots_have_x_axis_titles():
    forest, _, _, recruitment = _plots()
    for plot, expected in ((forest, "Coefficient (95 % CI)"), (recruitment, "Month")):
        root = ET.fromstring(str(plot.svg))
        titles = [t.text for t in root.iter(f"{SVG}text")
                  if "plot-axis-title--x" in (t.get("class") or "")]
        assert titles == [expected]


def _ticks(plot, axis):
    root = ET.fromstring(str(plot.svg))
    return [t.text for t in root.iter(f"{SVG}text")
            if f"plot-tick--{axis}" in (t.get("class") or "")]


def test_ppic_change_plot_ticks_every_10_and_pih_every_20():
    _, ppic, pih, _ = _plots()
    assert _ticks(ppic, "y") == ["20", "30", "40", "50"]
    assert _ticks(pih, "y") == ["0", "20", "40", "60", "80", "100"]


def test_recruitment_month_labels_are_spaced_to_fit_at_14_px():
    recruitment = _plots()[3]
    labels = _ticks(recruitment, "x")
    # 470 px of axis for 12 months: one label every 80 px at most, evenly stepped
    assert 2 <= len(labels) <= 470 // 80
    assert labels[0] == "2025-01"


def test_recruitment_end_labels_do_not_overlap_when_counts_are_close():
    plot = recruitment_plot(months=["2025-01", "2025-02"], recruited=[10, 1],
                            completed=[10, 0], target=None)
    root = ET.fromstring(str(plot.svg))
    ends = [float(t.get("y")) for t in root.iter(f"{SVG}text")
            if (t.text or "").startswith(("Recruited", "Follow-up complete"))]
    assert len(ends) == 2 and abs(ends[0] - ends[1]) >= 18 - 1e-9
