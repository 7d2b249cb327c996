"""Issue 14 (researchers) and issue 19 item 5 in a real browser: plot text readable at its
rendered size, axis titles, Table 2's compact zero-variance mark, the refit feedback, and the
interviews page at 320 px. Screenshots go to /tmp/shots/research-*.png for the closing note.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import expect

from analysis.models import InterviewContact
from analysis.runs import services
from analysis.tests.factories import build_cohort
from patients.models import Patient
from tests.browser.pages import axe_check, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = Path("/tmp/shots")
MIN_TEXT_PX = 14


def _shot(page, name: str, **kwargs) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"research-{name}.png"), **kwargs)


@pytest.fixture
def fitted_cohort(clinic_a, clinic_b):
    build_cohort(seed=3, sizes={"A": 12, "B": 14, "C": 10})
    run, _ = services.model_run_request(trigger="browser test", force=True)
    return services.model_run_execute(run_id=run.pk)


# Each SVG text's font size in CSS px as drawn: its computed size in user units times the
# SVG's rendered width over its viewBox width.
RENDERED_SIZES = """() => Array.from(document.querySelectorAll('svg.plot')).flatMap(svg => {
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  return Array.from(svg.querySelectorAll('text')).map(t => ({
    text: t.textContent, plot: svg.getAttribute('aria-labelledby'),
    px: parseFloat(getComputedStyle(t).fontSize) * scale}));
})"""


def test_plot_text_is_at_least_14_px_and_every_plot_has_axis_titles(
        live_server, new_page, researcher, fitted_cohort):
    page = new_page()
    sign_in(page, live_server, researcher)
    page.goto(f"{live_server.url}/analysis/")
    page.locator("#table2 .plot-grid").scroll_into_view_if_needed()
    _shot(page, "forest-plots")
    page.locator("#change").scroll_into_view_if_needed()
    _shot(page, "change-plots")
    sizes = page.evaluate(RENDERED_SIZES)
    assert len(sizes) > 50
    small = [s for s in sizes if s["px"] < MIN_TEXT_PX - 0.01]
    assert not small, f"{len(small)} plot labels under {MIN_TEXT_PX} px: {small[:5]}"
    svgs = page.locator("svg.plot")
    assert svgs.count() == 16  # 12 study plots, 4 diagnostics of the first model
    for index in range(svgs.count()):
        svg = svgs.nth(index)
        y_title = svg.locator("text.plot-axis-title--y")
        expect(y_title).to_have_count(1)
        assert y_title.text_content().strip()
    # (the PPiC ticks every 10 are checked in analysis/tests/test_research_plots.py)
    axe_check(page)


def test_table2_zero_variance_is_one_compact_mark_with_a_footnote(
        live_server, new_page, researcher, fitted_cohort):
    page = new_page()
    sign_in(page, live_server, researcher)
    page.goto(f"{live_server.url}/analysis/")
    region = page.locator("#table2 > .table-responsive")
    region.scroll_into_view_if_needed()
    _shot(page, "table2")
    # no two-line Django comment printed
    expect(page.locator("body")).not_to_contain_text("{#")
    status = page.get_by_test_id("model-status")
    marks = status.locator(".model-mark")
    if marks.count():
        for index in range(marks.count()):
            mark = marks.nth(index)
            box = mark.bounding_box()
            assert box["height"] < 40, box          # one line, not a tall box
            target = mark.locator("a").get_attribute("href")
            footnote = page.locator(target)
            expect(footnote).to_be_visible()
    expect(status.locator(".model-badge--warning")).to_have_count(0)
    # three clinics inform every clinic variance: the fewer-than-5 note is shown
    expect(page.get_by_test_id("few-clinics")).to_contain_text("3 clinics")
    axe_check(page)


def test_refit_now_shows_feedback_at_once(live_server, new_page, researcher, fitted_cohort):
    page = new_page()
    sign_in(page, live_server, researcher)
    page.goto(f"{live_server.url}/analysis/")
    button = page.get_by_role("button", name="Refit now")
    # Keep the page so its in-flight state can be read: a listener added after the page's
    # own (which run first and set the busy state) cancels the navigation. Holding the
    # request with page.route does not work: Playwright's locators then wait for the
    # pending navigation to finish.
    page.evaluate("""() => document.querySelector('form[action$="/analysis/refit/"]')
        .addEventListener('submit', event => event.preventDefault())""")
    button.click()
    expect(page.get_by_role("button", name="Refitting…")).to_be_disabled()
    expect(page.get_by_test_id("refit-status")).to_contain_text("Refitting")
    _shot(page, "refit-feedback", clip={"x": 0, "y": 0, "width": 1280, "height": 600})


def test_interviews_page_fits_320_px_and_shows_site_dates(live_server, new_page, researcher,
                                                          fitted_cohort):
    patient = Patient.objects.order_by("study_id").first()
    InterviewContact.objects.create(patient=patient, status="interviewed",
                                    invited_on=dt.date(2026, 12, 7),
                                    interviewed_on=dt.date(2026, 12, 14), duration_minutes=45,
                                    place="clinic", notes="Long answer about work and pain")
    page = new_page({"viewport": {"width": 320, "height": 800}})
    sign_in(page, live_server, researcher)
    page.goto(f"{live_server.url}/analysis/interviews/")
    _shot(page, "interviews-320", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 320, f"interviews page is {width} px wide at 320"
    contacts = page.get_by_test_id("contacts")
    expect(contacts).to_contain_text("7 Dec 2026")
    expect(contacts).to_contain_text("14 Dec 2026")
    expect(contacts).not_to_contain_text("2026-12-07")
    axe_check(page)
