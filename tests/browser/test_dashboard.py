"""Researcher dashboard and statistician export in a real browser (axe-core on each page)."""
from __future__ import annotations

import csv
import re

import pytest
from playwright.sync_api import expect

from analysis.runs import services
from analysis.tests.factories import build_cohort
from questionnaires.cohort_files.columns import EXPORT_COLUMNS
from questionnaires.instruments import SCORE_CODES
from questionnaires.models import Administration
from tests.browser.pages import axe_check, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fitted_cohort(clinic_a, clinic_b):
    build_cohort(seed=3, sizes={"A": 12, "B": 14, "C": 10})
    run, _ = services.model_run_request(trigger="browser test", force=True)
    return services.model_run_execute(run_id=run.pk)


def test_researcher_sees_tables_and_plots(live_server, page, researcher, fitted_cohort):
    sign_in(page, live_server, researcher)
    expect(page).to_have_url(re.compile(r"/analysis/$"))
    expect(page.get_by_role("heading", name="Cohort dashboard")).to_be_visible()
    expect(page.get_by_role("heading", name="Table 1: characteristics by clinic")).to_be_visible()
    expect(page.get_by_role("heading", name="Table 2: multilevel regression")).to_be_visible()
    expect(page.get_by_test_id("table2")).to_contain_text("Partnership")
    # Plots are server-side SVG with an accessible name: visible without any script.
    plots = page.get_by_role("img")
    # 12 study plots and the 4 diagnostics of the first model (residuals against fitted,
    # Q-Q of the residuals, of the clinic and of the patient effects)
    expect(plots).to_have_count(16)
    expect(page.get_by_role("img", name=re.compile("PIH overall: coefficients"))).to_be_visible()
    axe_check(page)
    page.get_by_role("link", name="Adding timepoint").click()
    expect(page.get_by_test_id("table2")).to_contain_text("3-month follow-up")
    page.get_by_role("link", name="Interview sub-sample").first.click()
    expect(page.get_by_role("heading", name="Maximum-variation proposal")).to_be_visible()
    axe_check(page)
    page.goto(f"{live_server.url}/analysis/quality/")
    expect(page.get_by_role("heading", name="Data quality", exact=True)).to_be_visible()
    axe_check(page)


def _landmark_names_are_unique(page) -> int:
    """axe's landmark-unique (moderate, so not failed by axe_check): every scrollable table
    region, and every other landmark, has a name of its own."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": ["landmark-unique"]})
    duplicates = [node["target"] for violation in results.response["violations"]
                  for node in violation["nodes"]]
    assert not duplicates, f"Landmarks sharing a name on {page.url}: {duplicates}"
    regions = page.locator(".table-responsive[role=region]")
    names = [regions.nth(i).get_attribute("aria-label") for i in range(regions.count())]
    assert len(set(names)) == len(names), names
    return len(names)


def test_table_regions_are_named_and_table2_fits_1280_px(live_server, new_page, researcher,
                                                          fitted_cohort, tmp_path):
    page = new_page()
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_server, researcher)
    for variant in ("paper", "timepoint", "between_within"):
        page.goto(f"{live_server.url}/analysis/?variant={variant}")
        assert _landmark_names_are_unique(page) >= 3  # recruitment, Table 1, Table 2, plots
        _assert_table2_fits(page, tmp_path / f"table2-{variant}.png")
    for path in ("/analysis/interviews/", "/analysis/quality/"):
        page.goto(f"{live_server.url}{path}")
        _landmark_names_are_unique(page)


def _assert_table2_fits(page, screenshot) -> None:
    region = page.locator("#table2 > .table-responsive")
    region.scroll_into_view_if_needed()
    page.screenshot(path=screenshot)  # in pytest's tmp_path, to look at when this fails
    scroll, client = region.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert scroll <= client, f"Table 2 scrolls sideways at 1280 px: {scroll} > {client}"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_dashboard_shows_without_javascript(live_server, browser, researcher, fitted_cohort):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, live_server, researcher)
        page.goto(f"{live_server.url}/analysis/")
        expect(page.get_by_role("img")).to_have_count(16)  # 12 study plots, 4 diagnostics
    finally:
        context.close()


def test_nurse_gets_403_on_dashboard_and_export(live_server, page, nurse_a, nurse_b):
    sign_in(page, live_server, nurse_b)
    for path in ("/analysis/", "/analysis/export/", "/analysis/export/cohort_csv/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 403, path


def test_statistician_downloads_csv_and_codebook(live_server, page, statistician,
                                                 fitted_cohort, tmp_path):
    sign_in(page, live_server, statistician)
    page.get_by_role("link", name="Export").first.click()
    expect(page.get_by_role("heading", name="Export for analysis")).to_be_visible()
    axe_check(page)
    assert _landmark_names_are_unique(page) >= 2  # the codebook's tables

    with page.expect_download() as info:
        page.get_by_test_id("download-cohort").click()
    cohort_path = tmp_path / "cohort.csv"
    info.value.save_as(cohort_path)
    with page.expect_download() as info:
        page.get_by_test_id("download-codebook").click()
    codebook_path = tmp_path / "codebook.csv"
    info.value.save_as(codebook_path)

    with cohort_path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    stored = {(a.patient.study_id, a.timepoint): a
              for a in Administration.objects.select_related("patient")}
    assert len(rows) == len(stored)
    for row in rows:
        admin = stored[(row["study_id"], row["timepoint"])]
        for code in SCORE_CODES:
            value = getattr(admin, code)
            if value is None:
                assert row[code] == "", (row["study_id"], code)
                continue
            # Scores are written at 2 decimals (the codebook's stated precision).
            assert re.fullmatch(r"-?\d+\.\d{2}", row[code]), (row["study_id"], code)
            assert abs(float(row[code]) - value) <= 0.005 + 1e-9, (row["study_id"], code)

    with codebook_path.open(encoding="utf-8") as handle:
        described = [e["column"] for e in csv.DictReader(handle) if e["file"] == "cohort"]
    assert described == list(EXPORT_COLUMNS)
