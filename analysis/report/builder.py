"""A model run's results as a journal report: tables of text cells and a methods paragraph.

The builder takes what a model run or a frozen dataset has, never a database row:
`results` (the run's JSON, analysis/stats/results.py), `provenance` ({"label", "date",
"fingerprint"}), the software `versions` that computed it and, optionally, Table 3 rows
(the interview sub-sample is recorded outside the run). Cells are formatted by the
dashboard's layout functions (analysis/pages/dashboard.py), so a number reads the same
in the report as on the dashboard, to the character.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from questionnaires.instruments import PIH_SCORE_CODES

from ..pages.dashboard import table1_layout, table2_layout
from ..stats.descriptives import score_label
from ..stats.results import ICC_LABELS, population_label

DASH = "–"


@dataclass
class ReportTable:
    """One table: a header row, body rows of text (first cell the row's label) and notes.

    `group_rows` are the indices of rows that head a group (printed bold, label only).
    """

    key: str
    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    group_rows: set[int] = field(default_factory=set)
    intro: str = ""


@dataclass
class Report:
    title: str
    provenance: dict[str, str]
    methods: list[str]
    tables: list[ReportTable]
    warnings: list[str] = field(default_factory=list)


def build_report(*, results: Mapping[str, Any], provenance: Mapping[str, Any],
                 versions: Mapping[str, str] | None = None,
                 table3: Sequence[Any] | None = None, table3_note: str = "") -> Report:
    """The report of one set of results; `table3` is a list of interviews.Table3Row."""
    tables = [table1(results)]
    tables += [table2(results, variant) for variant in results.get("table2", {})
               .get("variants", []) if _has_models(results, variant["key"])]
    if table3 is not None:
        tables.append(table3_table(table3, table3_note))
    if results.get("attrition", {}).get("variables"):
        tables.append(attrition_table(results["attrition"]))
    label = str(provenance.get("label", ""))
    return Report(
        title=f"PainCohort: results of {label}" if label else "PainCohort: results",
        provenance={key: str(provenance.get(key, "")) for key in ("label", "date",
                                                                  "fingerprint")},
        methods=methods_paragraphs(results, provenance, versions or {}),
        tables=tables, warnings=list(results.get("warnings", [])))


def _has_models(results: Mapping[str, Any], variant: str) -> bool:
    return any(m["variant"] == variant for m in results.get("table2", {}).get("models", []))


# --- Table 1 and the attrition table (same shape) ----------------------------------------

def _characteristics(key: str, title: str, layout: dict, intro: str) -> ReportTable:
    columns = layout["columns"]
    header = ["Characteristic", *[f"{c['label']} (n = {c['n']})" for c in columns], "p"]
    rows, groups, notes = [], set(), []
    for block in layout["blocks"]:
        if block["single"]:
            row = block["rows"][0]
            rows.append([row["label"], *row["cells"], block["p"]])
            continue
        groups.add(len(rows))
        rows.append([f"{block['label']}, {block['statistic']}", *[""] * len(columns),
                     block["p"]])
        rows.extend([row["label"], *row["cells"], ""] for row in block["rows"])
        if block["fisher"]:
            notes.append(f"{block['label']}: {block['fisher']}.")
    tests = sorted({block["test"] for block in layout["blocks"] if block["test"]})
    if tests:
        notes.append("p-values: " + "; ".join(tests) + " (none adjusted for multiplicity).")
    return ReportTable(key, title, header, rows, notes, groups, intro)


def table1(results: Mapping[str, Any]) -> ReportTable:
    layout = table1_layout(results.get("table1", {}))
    population = population_label(layout["population"])
    return _characteristics(
        "table1", "Table 1: characteristics by clinic", layout,
        f"The patients analysed in Table 2 ({population.lower()}). Frequency (%) or the "
        "statistic named; p across clinics.")


def attrition_layout(attrition: Mapping[str, Any]) -> dict:
    """The attrition comparison laid out as Table 1 (its variables have the same shape)."""
    return table1_layout({"columns": attrition.get("groups", []),
                          "variables": attrition.get("variables", []), "population": ""})


def attrition_table(attrition: Mapping[str, Any]) -> ReportTable:
    table = _characteristics("attrition", "Attrition: completers against patients lost "
                             "to follow-up", attrition_layout(attrition),
                             "Baseline characteristics of the patients followed up and of "
                             "those lost to follow-up.")
    reasons = ", ".join(f"{r['label'].lower()} {r['n']}" for r in attrition.get("lost_reasons",
                                                                               []))
    if reasons:
        table.notes.insert(0, f"Reasons lost to follow-up: {reasons}.")
    if attrition.get("not_yet_due"):
        table.notes.insert(1, f"{attrition['not_yet_due']} patients without a follow-up are "
                              "still active (not yet due) and in neither group.")
    return table


# --- Table 2 ------------------------------------------------------------------------------

def table2(results: Mapping[str, Any], variant: Mapping[str, str]) -> ReportTable:
    """One variant's models: terms as rows, two columns (coefficient (CI), p) per outcome."""
    layout = table2_layout(results["table2"], variant["key"])
    header = ["Term"]
    for outcome in layout["outcomes"]:
        header += [f"{outcome['label']}: coef. (95 % CI)", "p"]
    rows = [[row["label"], *[text for cell in row["cells"] for text in
                             (coef_ci(cell), cell["p"])]] for row in layout["rows"]]
    footer = [["Observations / patients / clinics",
               *[text for item in layout["models"] for text in (counts_text(item), "")]]]
    footer += [[row["label"], *[text for cell in row["cells"] for text in (cell, "")]]
               for row in layout["components"]]
    footer.append(["Model status", *[text for item in layout["models"]
                                     for text in (status_text(item), "")]])
    notes = [f"{note['letter']}. {note['label']} ({', '.join(note['outcomes'])}): "
             f"{note['text']}" for note in layout["notes"]]
    for item in layout["models"]:
        for exclusion in (item["model"] or {}).get("exclusions", []):
            notes.append(f"{item['outcome']}: left out {exclusion['text']}.")
    if layout["few_clinics"]:
        notes.append(f"Few clinics: {layout['few_clinics']}")
    missing = layout["not_in_population"]
    if missing.get("patients"):
        notes.append(f"Not in the population: {missing['rows']} rows of {missing['patients']} "
                     "patients without a complete follow-up.")
    notes.append("ICCs as Stata's estat icc: " + "; ".join(
        f"{label}" for label in ICC_LABELS.values()) + " (the latter pools clinic and "
        "patient variances).")
    population = population_label(results["table2"].get("population", ""))
    estimation = "REML" if results.get("options", {}).get("reml") else "ML"
    return ReportTable(
        f"table2-{variant['key']}", f"Table 2 ({variant['label']}): multilevel regression",
        header, rows + footer, notes, intro=f"{variant['description']} {estimation}; "
        f"{population.lower()}. Coefficient (95 % CI) and p.")


def coef_ci(cell: Mapping[str, str]) -> str:
    """The dashboard's coefficient cell as one string: "1.47 (1.10 to 1.84)"."""
    return f"{cell['coef']} {cell['ci']}" if cell["ci"] else cell["coef"]


def counts_text(item: Mapping[str, Any]) -> str:
    model = item["model"]
    if not model:
        return DASH
    return f"{model['n_obs']} / {model['n_patients']} / {model['n_clinics']}"


def status_text(item: Mapping[str, Any]) -> str:
    """Not fitted / not converged / variance marks, as the dashboard's status row."""
    words = [badge["label"] for badge in item["badges"]]
    words += [f"{mark['label']} ({mark['letter']})" for mark in item["marks"]]
    if words:
        return "; ".join(words)
    return "Fitted and converged" if item["model"] else DASH


# --- Table 3 ------------------------------------------------------------------------------

TABLE3_HEADER = ["Study ID", "Clinic", "Age", "Gender", "Ethnicity", "Education",
                 "Pain severity", "Years of pain", "Pain sites"]


def table3_table(rows: Sequence[Any], note: str = "") -> ReportTable:
    """Interviewees (Table3Row of analysis/pages/interviews.py), as the interview page."""
    header = [*TABLE3_HEADER, *[score_label(code) for code in PIH_SCORE_CODES]]
    body = [[row.study_id, row.clinic, "" if row.age is None else str(row.age),
             *row.characteristics, row.pain_change or DASH, row.pain_years_label,
             row.pain_sites_label, *[category or DASH for category in row.pih_changes]]
            for row in rows]
    return ReportTable("table3", f"Table 3: interviewees (n = {len(body)})", header, body,
                       [note] if note else [],
                       intro="Change from baseline to follow-up in pain severity and in "
                             "each PIH score: increased, unchanged or lowered.")


# --- methods ------------------------------------------------------------------------------

def inference_text(results: Mapping[str, Any]) -> str:
    """The degrees-of-freedom method of Table 2's CIs and p-values."""
    ddf = (results.get("options") or {}).get("ddf")
    if ddf in ("satterthwaite", "kenward-roger"):
        name = "Satterthwaite" if ddf == "satterthwaite" else "Kenward-Roger"
        return (f"t-based with {name} degrees of freedom (as R's lmerTest / pbkrtest "
                "compute them)")
    return ("by the normal approximation (z statistics, no degrees-of-freedom correction), "
            "as Stata's mixed reports them")


def methods_paragraphs(results: Mapping[str, Any], provenance: Mapping[str, Any],
                       versions: Mapping[str, str]) -> list[str]:
    options = results.get("options") or {}
    estimation = ("restricted maximum likelihood (REML)" if options.get("reml")
                  else "maximum likelihood (ML)")
    population = population_label(options.get("population", ""))
    software = ", ".join(f"{name} {versions[name]}" for name in
                         ("numpy", "pandas", "scipy", "statsmodels") if versions.get(name))
    counts = results.get("counts", {})
    return [
        "Each PIH score (knowledge, side effects, symptoms, treatment adherence and overall) "
        "was regressed on partnership (PPiC) and the baseline covariates (age, gender, "
        "ethnicity, education, baseline pain severity, years of pain and number of pain "
        "sites) in a three-level linear model with random intercepts for clinic and for "
        "patient within clinic (measurements at baseline and three months at level 1), "
        f"fitted by {estimation}. Confidence intervals (95 %) and p-values are "
        f"{inference_text(results)}; standard errors are those of (X'V⁻¹X)⁻¹ at the "
        "estimated variance components. Intraclass correlations are reported as Stata's "
        "estat icc. Population: " + population.lower() + ".",
        f"Data: {counts.get('patients', DASH)} patients ({counts.get('completers', DASH)} "
        f"followed up) in {counts.get('clinics', DASH)} clinics, "
        f"{counts.get('administrations', DASH)} administrations. Scores were computed by "
        f"PainCohort (scoring version {results.get('scoring_version') or DASH}).",
        f"Software: PainCohort (analysis version {versions.get('analysis') or DASH}; its own "
        f"multilevel fitter, analysis.multilevel) on Python {versions.get('python') or DASH}"
        + (f" with {software}" if software else "") + ".",
        f"Provenance: {provenance.get('label') or DASH}, {provenance.get('date') or DASH}; "
        f"data fingerprint (SHA-256 over the analysed data, options, scoring and analysis "
        f"versions) {provenance.get('fingerprint') or DASH}.",
    ]
