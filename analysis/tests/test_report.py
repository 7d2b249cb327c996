"""The journal report of a model run (issue 19 item 6): every cell of the Word document and
of the print-ready page equals the dashboard's (or the interview page's) cell for the run;
methods name the method, inference, software and fingerprint; access and logging."""
import datetime as dt
import io
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from docx import Document

from analysis.models import ExportLog, InterviewContact, InterviewStatus, ModelRun, RunStatus
from analysis.pages import dashboard, interviews
from analysis.report.builder import build_report
from analysis.runs import services
from analysis.tests.factories import build_cohort
from patients.models import Patient


@pytest.fixture
def fitted(clinic_a, clinic_b, researcher):
    build_cohort(seed=11, sizes={"A": 14, "B": 16, "C": 12})
    run, _ = services.model_run_request(trigger="test", force=True)
    run = services.model_run_execute(run_id=run.pk)
    assert run.status == RunStatus.SUCCEEDED
    completers = Patient.objects.filter(administrations__timepoint="followup").order_by(
        "study_id")[:3]
    for patient in completers:
        InterviewContact.objects.create(
            patient=patient, status=InterviewStatus.INTERVIEWED, recorded_by=researcher,
            interviewed_on=dt.date(2026, 1, 5), duration_minutes=40, place="clinic")
    return run


# --- what the dashboard and the interview page show, cell by cell --------------------------

def dashboard_table1() -> list[list[str]]:
    """Table 1 rows of the dashboard's context: label, cells, p (a group row: label only)."""
    layout = dashboard.dashboard_context()["table1"]
    rows = []
    for block in layout["blocks"]:
        if block["single"]:
            rows.append([block["rows"][0]["label"], *block["rows"][0]["cells"], block["p"]])
        else:
            rows.append([f"{block['label']}, {block['statistic']}",
                         *[""] * len(layout["columns"]), block["p"]])
            rows += [[row["label"], *row["cells"], ""] for row in block["rows"]]
    return rows


def dashboard_table2(variant: str) -> list[list[str]]:
    """Table 2's terms, counts and variance rows of the dashboard's context for a variant."""
    layout = dashboard.dashboard_context(variant=variant)["table2"]
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


def interview_table3() -> list[list[str]]:
    context = interviews.interview_context(sd_fraction=interviews.DEFAULT_SD_FRACTION,
                                           proposal_size=12)
    return [[row.study_id, row.clinic, str(row.age), *row.characteristics,
             row.pain_change or "–", row.pain_years_label, row.pain_sites_label,
             *[c or "–" for c in row.pih_changes]] for row in context["table3_rows"]]


# --- reading the two files ------------------------------------------------------------------

def docx_tables(content: bytes) -> list[list[list[str]]]:
    document = Document(io.BytesIO(content))
    return [[[cell.text for cell in row.cells] for row in table.rows]
            for table in document.tables]


class _Tables(HTMLParser):
    """Tables by data-testid: rows of cell texts (th and td), header row first."""

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


def html_tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def _docx(client, run):
    response = client.get(reverse("analysis:report_docx", args=[run.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    return docx_tables(response.content)


def _html(client, run):
    response = client.get(reverse("analysis:report", args=[run.pk]))
    assert response.status_code == 200
    return response.content.decode()


# --- the tests -------------------------------------------------------------------------------

def test_docx_and_html_table1_cells_equal_the_dashboards(client, researcher, fitted):
    client.force_login(researcher)
    expected = dashboard_table1()
    assert len(expected) > 20
    word = _docx(client, fitted)[0]
    page = html_tables(_html(client, fitted))["table1"]
    assert word[1:] == expected
    assert page[1:] == expected
    assert word[0] == page[0] and word[0][0] == "Characteristic"


@pytest.mark.parametrize("index, variant", [(1, "paper"), (2, "timepoint"),
                                             (3, "between_within")])
def test_docx_and_html_table2_cells_equal_the_dashboards(client, researcher, fitted, index,
                                                         variant):
    client.force_login(researcher)
    expected = dashboard_table2(variant)
    word = _docx(client, fitted)[index]
    page = html_tables(_html(client, fitted))[f"table2-{variant}"]
    # every term, count and variance row, in order; the last row is the model status
    assert word[1:-1] == expected
    assert page[1:-1] == expected
    assert word[-1][0] == page[-1][0] == "Model status"


def test_table2_partnership_cell_is_the_stored_coefficient(client, researcher, fitted):
    """Independent of both layouts: the stored number, printed at 2 decimals."""
    client.force_login(researcher)
    model = next(m for m in fitted.results["table2"]["models"]
                 if m["variant"] == "paper" and m["outcome"] == "pih_knowledge")
    term = next(t for t in model["terms"] if t["term"] == "partnership")
    row = next(r for r in _docx(client, fitted)[1] if r[0] == "Partnership (PPiC)")
    assert row[1] == f"{term['coef']:.2f} ({term['ci_low']:.2f} to {term['ci_high']:.2f})"


def test_table3_cells_equal_the_interview_pages(client, researcher, fitted):
    client.force_login(researcher)
    expected = interview_table3()
    assert len(expected) == 3
    word = _docx(client, fitted)[4]
    page = html_tables(_html(client, fitted))["table3"]
    assert word[1:] == expected and page[1:] == expected


def test_attrition_table_lists_completers_and_lost(client, researcher, fitted):
    client.force_login(researcher)
    page = html_tables(_html(client, fitted))["attrition"]
    groups = fitted.results["attrition"]["groups"]
    assert page[0][1:3] == [f"{g['label']} (n = {g['n']})" for g in groups]
    age = fitted.results["attrition"]["variables"][0]["rows"][0]["cells"]["completers"]
    assert page[1][1].startswith(f"{age['median']:g} (IQR")


def test_methods_name_method_inference_software_and_fingerprint(client, researcher, fitted):
    client.force_login(researcher)
    html = _html(client, fitted)
    assert "fitted by maximum likelihood (ML)" in html
    assert "normal approximation" in html and "Stata" in html
    assert f"statsmodels {fitted.versions['statsmodels']}" in html
    assert f"Python {fitted.versions['python']}" in html
    assert fitted.fingerprint in html
    document = Document(io.BytesIO(client.get(
        reverse("analysis:report_docx", args=[fitted.pk])).content))
    text = "\n".join(p.text for p in document.paragraphs)
    assert fitted.fingerprint in text and "maximum likelihood (ML)" in text


def test_builder_takes_a_freezes_results_and_provenance():
    """A frozen dataset passes its own results and provenance: no run, no database."""
    results = {"options": {"population": "completers", "reml": True,
                           "ddf": "kenward-roger"},
               "counts": {"patients": 10}, "table1": {}, "table2": {"variants": []}}
    report = build_report(results=results, provenance={
        "label": "freeze 2027-01", "date": "2027-01-31", "fingerprint": "ab" * 32},
        versions={"python": "3.11.2", "analysis": "2"})
    text = " ".join(report.methods)
    assert "restricted maximum likelihood (REML)" in text
    assert "Kenward-Roger degrees of freedom" in text
    assert "freeze 2027-01, 2027-01-31" in text and "ab" * 32 in text
    assert report.title == "PainCohort: results of freeze 2027-01"


def test_reports_are_logged_as_exports(client, researcher, fitted):
    client.force_login(researcher)
    client.get(reverse("analysis:report", args=[fitted.pk]))
    client.get(reverse("analysis:report_docx", args=[fitted.pk]))
    files = set(ExportLog.objects.filter(user=researcher).values_list("file", flat=True))
    assert files == {f"paincohort_report_run{fitted.pk}.html",
                     f"paincohort_report_run{fitted.pk}.docx"}


@pytest.mark.parametrize("name", ["analysis:report", "analysis:report_docx"])
def test_nurses_cannot_read_the_report(client, nurse_a, nurse_b, fitted, name):
    for nurse in (nurse_a, nurse_b):
        client.force_login(nurse)
        assert client.get(reverse(name, args=[fitted.pk])).status_code == 403
    assert not ExportLog.objects.exists()


def test_a_failed_or_unknown_run_has_no_report(client, researcher, fitted):
    failed = ModelRun.objects.create(status=RunStatus.FAILED, error="boom")
    client.force_login(researcher)
    for pk in (failed.pk, failed.pk + 100):
        assert client.get(reverse("analysis:report", args=[pk])).status_code == 404
        assert client.get(reverse("analysis:report_docx", args=[pk])).status_code == 404


def test_the_page_is_print_ready(client, researcher, fitted):
    client.force_login(researcher)
    html = _html(client, fitted)
    assert "css/report.css" in html and "Save as PDF" in html
    assert "<style" not in html      # the content-security policy allows no inline styles
