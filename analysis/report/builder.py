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

from ..pages import dashboard_checks as checks
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
                 versions: Mapping[str, str] | None = None, headline_setting: str = "z",
                 table3: Sequence[Any] | None = None, table3_note: str = "") -> Report:
    """The report of one set of results.

    `headline_setting` is the study's choice of Table 2's inference (StudyTarget
    .headline_inference: "auto", "z", "satterthwaite", "kenward-roger"), resolved as the
    dashboard resolves it; `table3` is a list of interviews.Table3Row.
    """
    estimation = "REML" if (results.get("options") or {}).get("reml") else "ML"
    table2_results = results.get("table2", {})
    headline = checks.headline(headline_setting, table2_results, estimation=estimation)
    variants = [v for v in table2_results.get("variants", [])
                if _has_models(results, v["key"])]
    tables = [table1(results)]
    tables += [table2(results, variant, headline) for variant in variants]
    tables += [table for variant in variants
               if (table := components_table(results, variant)) is not None]
    if table3 is not None:
        tables.append(table3_table(table3, table3_note))
    attrition = checks.attrition_layout(dict(results), table1_layout)
    if attrition and attrition["comparison"]["blocks"]:
        tables.append(attrition_table(attrition))
        tables += sensitivity_tables(attrition)
    label = str(provenance.get("label", ""))
    return Report(
        title=f"PainCohort: results of {label}" if label else "PainCohort: results",
        provenance={key: str(provenance.get(key, "")) for key in ("label", "date",
                                                                  "fingerprint")},
        methods=methods_paragraphs(results, provenance, versions or {}, headline),
        tables=tables, warnings=list(results.get("warnings", [])))


def _has_models(results: Mapping[str, Any], variant: str) -> bool:
    return any(m["variant"] == variant for m in results.get("table2", {}).get("models", []))


# --- Table 1 and the loss to follow-up -------------------------------------------------

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


def attrition_table(attrition: Mapping[str, Any]) -> ReportTable:
    """Completers against the lost, as the dashboard's loss-to-follow-up table (with the
    test named in its own column)."""
    layout = attrition["comparison"]
    columns = layout["columns"]
    header = ["Characteristic", *[f"{c['label']} (n = {c['n']})" for c in columns], "Test",
              "p"]
    rows, groups = [], set()
    for block in layout["blocks"]:
        if block["single"]:
            row = block["rows"][0]
            rows.append([f"{row['label']}, {block['statistic']}", *row["cells"],
                         block["test"], block["p"]])
            continue
        groups.add(len(rows))
        test = block["test"] + (f" ({block['fisher']})" if block["fisher"] else "")
        rows.append([f"{block['label']}, {block['statistic']}", *[""] * len(columns), test,
                     block["p"]])
        rows.extend([row["label"], *row["cells"], "", ""] for row in block["rows"])
    notes = []
    if attrition["lost_reasons"]:
        notes.append("Lost: " + ", ".join(f"{r['label'].lower()} {r['n']}"
                                          for r in attrition["lost_reasons"]) + ".")
    if attrition["not_yet_due"]:
        notes.append(f"{attrition['not_yet_due']} patients still in the follow-up window are "
                     "in neither group (not yet due).")
    return ReportTable("attrition", "Loss to follow-up: completers against the patients "
                       "lost", header, rows, notes, groups,
                       intro="Baseline characteristics of the completers and of the patients "
                             "lost to follow-up.")


def sensitivity_tables(attrition: Mapping[str, Any]) -> list[ReportTable]:
    """The partnership coefficient under every approach, and the tipping point."""
    tables = []
    side = attrition.get("partnership")
    if side:
        rows = [[row["label"], *[estimate_text(cell) for cell in row["cells"]]]
                for row in side["rows"]]
        notes = [f"{note['letter']}. {note['text']}" for note in side["notes"]]
        notes += _missing_data_notes(attrition)
        tables.append(ReportTable(
            "sensitivity", "Sensitivity: the partnership coefficient under every approach",
            ["Outcome", *side["columns"]], rows, notes,
            intro="The partnership coefficient of the published model (95 % CI; p; df) for "
                  "each outcome: z as in Table 2; Satterthwaite and Kenward-Roger t from the "
                  "REML refit; multiple imputation (Rubin's rules); inverse probability of "
                  "completion weighting."))
    tipping = attrition.get("tipping")
    if tipping:
        rows = [[row["delta"], coef_ci(row), row["p"]] for row in tipping["rows"]]
        tables.append(ReportTable(
            "tipping", "Sensitivity: tipping point", ["δ", "Partnership (95 % CI)", "p"],
            rows, [tipping["note"]] if tipping["note"] else [],
            intro="The lost patients' imputed follow-up PIH overall shifted by δ points "
                  "(δ < 0: worse than missing at random predicts); the partnership "
                  "coefficient of the refitted, pooled models."))
    return tables


def estimate_text(cell: Mapping[str, str]) -> str:
    """A side-by-side cell as the dashboard prints it: "0.82 (0.63 to 1.01); p < 0.001"."""
    if cell.get("letter"):
        return f"not available ({cell['letter']})"
    text = coef_ci(cell)
    if cell.get("p"):
        text += f"; p {cell['p']}"
    if cell.get("df"):
        text += f"; df {cell['df']}"
    return text


def _missing_data_notes(attrition: Mapping[str, Any]) -> list[str]:
    notes = []
    mi, ipw, weights = attrition.get("mi") or {}, attrition.get("ipw") or {}, \
        attrition.get("weights") or {}
    if mi.get("ok"):
        counts = mi.get("counts", {})
        notes.append(f"Multiple imputation: {mi.get('m')} imputations by chained equations "
                     f"({mi.get('iterations')} iterations, seed {mi.get('seed')}) of "
                     f"{counts.get('patients')} patients ({counts.get('completers')} "
                     f"completers, {counts.get('lost')} lost), missing at random given the "
                     "baseline measures, characteristics and clinic.")
    notes += [f"Multiple imputation: {note}" for note in mi.get("notes", [])]
    if ipw.get("ok") and weights:
        notes.append(f"Weighting: stabilised weights {weights['min']:.2f} to "
                     f"{weights['max']:.2f}, effective sample size "
                     f"{weights['effective_n']:.1f} of {weights['completers']} completers.")
    notes += [f"Weighting: {note}" for note in ipw.get("notes", [])]
    return notes


# --- Table 2 ------------------------------------------------------------------------------

def table2(results: Mapping[str, Any], variant: Mapping[str, str],
           headline: Mapping[str, str]) -> ReportTable:
    """One variant's models under the headline inference: terms as rows, two columns
    (coefficient (CI), p) per outcome."""
    layout = table2_layout(results["table2"], variant["key"], headline["method"])
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
        header, rows + footer, notes, intro=f"{variant['description']} Estimated by "
        f"{estimation}; {population.lower()}. Coefficient (95 % CI) and p. Shown: "
        f"{headline['label']} "
        f"({headline['reason']}).")


def components_table(results: Mapping[str, Any], variant: Mapping[str, str]
                     ) -> ReportTable | None:
    """Variance-component tests, profile CIs and AIC/BIC of a variant (None before schema 3)."""
    layout = checks.components_layout(results["table2"], variant["key"])
    if layout is None:
        return None
    return ReportTable(
        f"components-{variant['key']}",
        f"Variance components ({variant['label']}): tests, profile CIs, AIC and BIC",
        ["Quantity", *layout["outcomes"]],
        [[row["label"], *row["cells"]] for row in layout["rows"]], list(layout["notes"]),
        intro=f"Likelihood-ratio test of each level against the model without it "
              f"({layout['estimation']}; p from the 50:50 mixture of χ²(0) and χ²(1)); "
              "profile-likelihood 95 % CIs; AIC and BIC.")


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
    """Interviewees (Table3Row of analysis/interviews/classify.py), as the interview page."""
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

def inference_text(headline: Mapping[str, str]) -> str:
    """The degrees-of-freedom method of Table 2's CIs and p-values."""
    method = headline.get("method", "z")
    if method in ("satterthwaite", "kenward-roger"):
        name = checks.METHOD_NAMES[method]
        return (f"t-based with {name} denominator degrees of freedom, from the models "
                "refitted by REML (as R's lmerTest and pbkrtest compute them); a model "
                "whose t results could not be computed shows its z results, marked")
    return ("by the normal approximation (z statistics, no degrees-of-freedom correction), "
            "as Stata's mixed reports them")


def methods_paragraphs(results: Mapping[str, Any], provenance: Mapping[str, Any],
                       versions: Mapping[str, str], headline: Mapping[str, str]
                       ) -> list[str]:
    options = results.get("options") or {}
    estimation = ("restricted maximum likelihood (REML)" if options.get("reml")
                  else "maximum likelihood (ML)")
    population = population_label(options.get("population", ""))
    software = ", ".join(f"{name} {versions[name]}" for name in
                         ("numpy", "pandas", "scipy", "statsmodels") if versions.get(name))
    counts = results.get("counts", {})
    paragraphs = [
        "Each PIH score (knowledge, side effects, symptoms, treatment adherence and overall) "
        "was regressed on partnership (PPiC) and the baseline covariates (age, gender, "
        "ethnicity, education, baseline pain severity, years of pain and number of pain "
        "sites) in a three-level linear model with random intercepts for clinic and for "
        "patient within clinic (measurements at baseline and three months at level 1), "
        f"fitted by {estimation}. Confidence intervals (95 %) and p-values in Table 2 are "
        f"{inference_text(headline)} ({headline.get('reason', '')}); standard errors are "
        "those of (X'V⁻¹X)⁻¹ at the estimated variance components. Intraclass correlations "
        "are reported as Stata's estat icc. Population: " + population.lower() + ".",
    ]
    if checks.has_checks(dict(results)):
        paragraphs.append(
            "Each variance component was tested by a likelihood-ratio test against the model "
            "without it (chi-bar-square, 50:50 mixture of χ²(0) and χ²(1)), with "
            "profile-likelihood CIs for the variances and ICCs. Sensitivity to the loss to "
            "follow-up: multiple imputation by chained equations pooled by Rubin's rules, "
            "inverse probability of completion weighting, and a delta-adjustment tipping "
            "point.")
    paragraphs += [
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
    return paragraphs
