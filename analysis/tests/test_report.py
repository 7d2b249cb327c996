"""The journal report of a model run (issue 19 item 6): every cell of the Word document and
of the print-ready page equals the dashboard's (or the interview page's) cell for the run;
methods name the method, inference, software and fingerprint; access and logging.

Most tests draw a stored run of the demo cohort (data/demo_results.json.gz, as the
dashboard's issue-19 tests do); one fits a run."""
import copy
import datetime as dt
import gzip
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from docx import Document

from analysis import selectors
from analysis.interviews.constants import DEFAULT_SD_FRACTION
from analysis.models import ExportLog, InterviewContact, InterviewStatus, ModelRun, RunStatus
from analysis.pages import dashboard, interviews
from analysis.report.builder import build_report
from analysis.runs import services
from analysis.stats.cohort import ANALYSIS_VERSION
from analysis.tests.factories import build_cohort
from patients.models import Patient

DEMO = Path(__file__).resolve().parent / "data" / "demo_results.json.gz"


@pytest.fixture(scope="module")
def demo_results() -> dict:
    """A whole run's results on the demo cohort (schema 3: inference, variance tests, MI,
    IPW, tipping point), stored by make_demo_results.py: no test computes them."""
    with gzip.open(DEMO, "rt", encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture
def stored(db, demo_results):
    now = timezone.now()
    return ModelRun.objects.create(
        status=RunStatus.SUCCEEDED, results=demo_results, options=demo_results["options"],
        fingerprint=demo_results["fingerprint"], started_at=now, finished_at=now,
        versions={"analysis": ANALYSIS_VERSION, "python": "3.11.7", "numpy": "2.4.6",
                  "statsmodels": "0.15.0"})


@pytest.fixture
def interviewed(clinic_a, clinic_b, researcher):
    """Patients (their data are not those of the stored run) and three interviews."""
    build_cohort(seed=11, sizes={"A": 14, "B": 16, "C": 12})
    completers = Patient.objects.filter(administrations__timepoint="followup").order_by(
        "study_id")[:3]
    for patient in completers:
        InterviewContact.objects.create(
            patient=patient, status=InterviewStatus.INTERVIEWED, recorded_by=researcher,
            interviewed_on=dt.date(2026, 1, 5), duration_minutes=40, place="clinic")


def _set_headline(setting: str) -> None:
    target = selectors.study_target_get()
    target.headline_inference = setting
    target.save()


# --- what the dashboard and the interview page show, cell by cell --------------------------

def dashboard_table1(context) -> list[list[str]]:
    """Table 1 rows of the dashboard's context: label, cells, p (a group row: label only)."""
    layout = context["table1"]
    rows = []
    for block in layout["blocks"]:
        if block["single"]:
            rows.append([block["rows"][0]["label"], *block["rows"][0]["cells"], block["p"]])
        else:
            rows.append([f"{block['label']}, {block['statistic']}",
                         *[""] * len(layout["columns"]), block["p"]])
            rows += [[row["label"], *row["cells"], ""] for row in block["rows"]]
    return rows


def dashboard_table2(context) -> list[list[str]]:
    """Table 2's terms, counts and variance rows of the dashboard's context (one variant)."""
    layout = context["table2"]
    rows = []
    for row in layout["rows"]:
        cells = [row["label"]]
        for cell in row["cells"]:
            cells += [(cell["coef"] + " " + cell["ci"]).strip(), cell["p"]]
        rows.append(cells)
    counts = ["Observations / patients / clinics"]
    for item in layout["models"]:
        model = item["model"]
        counts += [f"{model['n_obs']} / {model['n_patients']} / {model['n_clinics']}", ""]
    rows.append(counts)
    for row in layout["components"]:
        rows.append([row["label"], *[text for cell in row["cells"] for text in (cell, "")]])
    return rows


def dashboard_components(context) -> list[list[str]]:
    return [[row["label"], *row["cells"]] for row in context["components"]["rows"]]


def dashboard_attrition(context) -> list[list[str]]:
    layout = context["attrition"]["comparison"]
    rows = []
    for block in layout["blocks"]:
        if block["single"]:
            row = block["rows"][0]
            rows.append([f"{row['label']}, {block['statistic']}", *row["cells"],
                         block["test"], block["p"]])
        else:
            test = block["test"] + (f" ({block['fisher']})" if block["fisher"] else "")
            rows.append([f"{block['label']}, {block['statistic']}",
                         *[""] * len(layout["columns"]), test, block["p"]])
            rows += [[row["label"], *row["cells"], "", ""] for row in block["rows"]]
    return rows


def dashboard_side_by_side(context) -> list[list[str]]:
    """The page's cells: "coef (CI); p P; df D", or "not available" with its note letter."""
    rows = []
    for row in context["attrition"]["partnership"]["rows"]:
        cells = [row["label"]]
        for cell in row["cells"]:
            if cell.get("letter"):
                cells.append(f"not available ({cell['letter']})")
                continue
            text = (cell["coef"] + " " + cell["ci"]).strip()
            text += f"; p {cell['p']}" if cell["p"] else ""
            text += f"; df {cell['df']}" if cell["df"] else ""
            cells.append(text)
        rows.append(cells)
    return rows


def dashboard_tipping(context) -> list[list[str]]:
    return [[row["delta"], (row["coef"] + " " + row["ci"]).strip(), row["p"]]
            for row in context["attrition"]["tipping"]["rows"]]


def interview_table3() -> list[list[str]]:
    context = interviews.interview_context(sd_fraction=DEFAULT_SD_FRACTION,
                                           proposal_size=12)
    return [[row.study_id, row.clinic, str(row.age), *row.characteristics,
             row.pain_change or "–", row.pain_years_label, row.pain_sites_label,
             *[c or "–" for c in row.pih_changes]] for row in context["table3_rows"]]


# --- reading the two files ------------------------------------------------------------------

class _Tables(HTMLParser):
    """Tables in page order, by data-testid: rows of cell texts (th and td), header first."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = self._cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("data-testid"), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def report_tables(client, run) -> tuple[dict, dict]:
    """(page tables, Word tables), both keyed by the page's data-testid (same order)."""
    response = client.get(reverse("analysis:report", args=[run.pk]))
    assert response.status_code == 200
    parser = _Tables()
    parser.feed(response.content.decode())
    word = client.get(reverse("analysis:report_docx", args=[run.pk]))
    assert word.status_code == 200
    assert word["Content-Type"].startswith("application/vnd.openxmlformats")
    document = Document(io.BytesIO(word.content))
    grids = [[[cell.text for cell in row.cells] for row in table.rows]
             for table in document.tables]
    assert len(grids) == len(parser.tables)
    return parser.tables, dict(zip(parser.tables, grids, strict=True))


def _both_equal(page: dict, word: dict, key: str, expected: list[list[str]]) -> None:
    assert expected, key
    assert page[key][1:] == expected, key
    assert word[key] == page[key], key


# --- the tests -------------------------------------------------------------------------------

def test_table1_cells_equal_the_dashboards(client, researcher, stored):
    client.force_login(researcher)
    page, word = report_tables(client, stored)
    _both_equal(page, word, "table1", dashboard_table1(dashboard.dashboard_context()))
    assert page["table1"][0][0] == "Characteristic"


@pytest.mark.parametrize("setting", ["auto", "z"])
def test_table2_and_component_cells_equal_the_dashboards_under_the_headline(
        client, researcher, stored, setting):
    _set_headline(setting)
    client.force_login(researcher)
    page, word = report_tables(client, stored)
    for variant in ("paper", "timepoint", "between_within"):
        context = dashboard.dashboard_context(variant=variant)
        assert context["headline"]["method"] == ("kenward-roger" if setting == "auto" else "z")
        key = f"table2-{variant}"
        # every term, count and variance row, in order; then the model status row
        assert page[key][1:-1] == dashboard_table2(context), key
        assert word[key] == page[key] and page[key][-1][0] == "Model status"
        if context["components"] is not None:
            _both_equal(page, word, f"components-{variant}", dashboard_components(context))


def test_headline_cells_are_the_stored_kenward_roger_results(client, researcher,
                                                             demo_results):
    """Independent of both layouts: the stored KR numbers, printed at 2 decimals, where the
    study setting (auto, 3 clinics) asks for Kenward-Roger; a model without them shows its
    z numbers, marked. (The demo's KR results are all missing, its clinic variances being
    0: one model's are put in.)"""
    results = copy.deepcopy(demo_results)
    model = next(m for m in results["table2"]["models"]
                 if m["variant"] == "paper" and m["outcome"] == "pih_knowledge")
    kr = next(m for m in model["inference"]["methods"] if m["key"] == "kenward-roger")
    kr.update(ok=True, note=None, terms=[
        {**t, "coef": t["coef"] + 0.25, "ci_low": t["ci_low"] - 1, "ci_high": t["ci_high"] + 1,
         "df": 2.3, "p": 0.04} for t in model["terms"]])
    now = timezone.now()
    run = ModelRun.objects.create(status=RunStatus.SUCCEEDED, results=results,
                                  options=results["options"], finished_at=now,
                                  versions={"analysis": ANALYSIS_VERSION})
    term = next(t for t in kr["terms"] if t["term"] == "partnership")
    z_overall = next(t for t in next(
        m for m in results["table2"]["models"]
        if m["variant"] == "paper" and m["outcome"] == "pih_overall")["terms"]
        if t["term"] == "partnership")
    client.force_login(researcher)
    page, word = report_tables(client, run)
    row = next(r for r in word["table2-paper"] if r[0] == "Partnership (PPiC)")
    assert row[1:3] == [f"{term['coef']:.2f} ({term['ci_low']:.2f} to {term['ci_high']:.2f})",
                        "0.040"]
    assert row[9] == f"{z_overall['coef']:.2f} ({z_overall['ci_low']:.2f} to " \
                     f"{z_overall['ci_high']:.2f})"
    status = word["table2-paper"][-1]
    assert "Kenward-Roger: z shown" not in status[1] and "Kenward-Roger: z shown" in status[9]


def test_attrition_and_sensitivity_cells_equal_the_dashboards(client, researcher, stored):
    client.force_login(researcher)
    page, word = report_tables(client, stored)
    context = dashboard.dashboard_context()
    _both_equal(page, word, "attrition", dashboard_attrition(context))
    _both_equal(page, word, "sensitivity", dashboard_side_by_side(context))
    _both_equal(page, word, "tipping", dashboard_tipping(context))
    assert page["sensitivity"][0][1:] == context["attrition"]["partnership"]["columns"]


def test_table3_cells_equal_the_interview_pages(client, researcher, stored, interviewed):
    client.force_login(researcher)
    expected = interview_table3()
    assert len(expected) == 3
    page, word = report_tables(client, stored)
    _both_equal(page, word, "table3", expected)


def test_methods_name_method_inference_software_and_fingerprint(client, researcher, stored):
    client.force_login(researcher)
    html = client.get(reverse("analysis:report", args=[stored.pk])).content.decode()
    assert "fitted by maximum likelihood (ML)" in html
    assert "Kenward-Roger denominator degrees of freedom" in html
    assert "statsmodels 0.15.0" in html and "Python 3.11.7" in html
    assert stored.fingerprint in html
    document = Document(io.BytesIO(client.get(
        reverse("analysis:report_docx", args=[stored.pk])).content))
    text = "\n".join(p.text for p in document.paragraphs)
    assert stored.fingerprint in text and "Kenward-Roger" in text
    _set_headline("z")
    html = client.get(reverse("analysis:report", args=[stored.pk])).content.decode()
    assert "normal approximation (z statistics" in html


def test_builder_takes_a_freezes_results_and_provenance(demo_results):
    """A frozen dataset passes its own results and provenance: no run, no database."""
    report = build_report(results=demo_results, headline_setting="satterthwaite", provenance={
        "label": "freeze 2027-01", "date": "2027-01-31", "fingerprint": "ab" * 32},
        versions={"python": "3.11.2", "analysis": "2"})
    text = " ".join(report.methods)
    assert "Satterthwaite denominator degrees of freedom" in text
    assert "freeze 2027-01, 2027-01-31" in text and "ab" * 32 in text
    assert report.title == "PainCohort: results of freeze 2027-01"
    assert [t.key for t in report.tables][:4] == [
        "table1", "table2-paper", "table2-timepoint", "table2-between_within"]


def test_a_fitted_runs_report_has_every_model(client, researcher, clinic_a, clinic_b):
    build_cohort(seed=11, sizes={"A": 14, "B": 16, "C": 12})
    run, _ = services.model_run_request(trigger="test", force=True)
    run = services.model_run_execute(run_id=run.pk)
    client.force_login(researcher)
    page, word = report_tables(client, run)
    _both_equal(page, word, "table1", dashboard_table1(dashboard.dashboard_context()))
    for variant in ("paper", "timepoint", "between_within"):
        context = dashboard.dashboard_context(variant=variant)
        assert page[f"table2-{variant}"][1:-1] == dashboard_table2(context)
    assert len(page["table2-paper"][0]) == 1 + 2 * 5


def test_reports_are_logged_as_exports(client, researcher, stored):
    client.force_login(researcher)
    client.get(reverse("analysis:report", args=[stored.pk]))
    client.get(reverse("analysis:report_docx", args=[stored.pk]))
    files = set(ExportLog.objects.filter(user=researcher).values_list("file", flat=True))
    assert files == {f"paincohort_report_run{stored.pk}.html",
                     f"paincohort_report_run{stored.pk}.docx"}


@pytest.mark.parametrize("name", ["analysis:report", "analysis:report_docx"])
def test_nurses_cannot_read_the_report(client, nurse_a, nurse_b, stored, name):
    for nurse in (nurse_a, nurse_b):
        client.force_login(nurse)
        assert client.get(reverse(name, args=[stored.pk])).status_code == 403
    assert not ExportLog.objects.exists()


def test_anonymous_user_is_sent_to_login(client, stored):
    response = client.get(reverse("analysis:report", args=[stored.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_failed_or_unknown_run_has_no_report(client, researcher, stored):
    failed = ModelRun.objects.create(status=RunStatus.FAILED, error="boom")
    client.force_login(researcher)
    for pk in (failed.pk, failed.pk + 100):
        assert client.get(reverse("analysis:report", args=[pk])).status_code == 404
        assert client.get(reverse("analysis:report_docx", args=[pk])).status_code == 404


def test_the_page_is_print_ready(client, researcher, stored):
    client.force_login(researcher)
    html = client.get(reverse("analysis:report", args=[stored.pk])).content.decode()
    assert "css/report.css" in html and "Save as PDF" in html
    assert "<style" not in html      # the content-security policy allows no inline styles


def test_export_page_links_the_report_of_the_dashboards_run(client, researcher, stored):
    client.force_login(researcher)
    html = client.get(reverse("analysis:export")).content.decode()
    assert reverse("analysis:report_docx", args=[stored.pk]) in html
    assert reverse("analysis:report", args=[stored.pk]) in html


def test_report_link_partial_links_both_files(stored):
    from django.template.loader import render_to_string

    html = render_to_string("analysis/_report_link.html", {"run": stored})
    assert f'href="{reverse("analysis:report_docx", args=[stored.pk])}"' in html
    assert f'href="{reverse("analysis:report", args=[stored.pk])}"' in html
    assert render_to_string("analysis/_report_link.html", {"run": None}).strip() == ""
