"""The researcher dashboard's content, assembled from the stored model run.

Tables 1 and 2, the change from baseline and the forest plots are read from the latest
successful run (analysis/stats/results.py documents its JSON); recruitment, the study target,
freshness and interview counts come from a few aggregate queries. The number of queries
does not depend on the cohort's size.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, FilteredRelation, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from clinics.models import Clinic
from patients.models import FollowUpStatus, LostReason, Patient
from patients.worklist import followup_dates
from questionnaires.instruments import SCALES_BY_CODE
from questionnaires.models import Administration, AdministrationStatus, Timepoint

from ..models import InterviewContact, InterviewStatus, ModelRun, RunStatus
from ..runs import selectors
from ..runs.services import model_run_request_now, runs_eagerly
from ..selectors import study_target_get
from ..stats.cohort import ANALYSIS_VERSION
from ..stats.power import sample_size
from ..stats.results import (
    NOT_CONVERGED,
    SCHEMA_VERSION,
    VARIANTS,
    ZERO_VARIANCE,
    format_p,
    population_label,
    zero_variance_levels,
)
from . import dashboard_checks, plots
from .live_counts import recent
from .outreach import outreach_summary_recent

DEFAULT_VARIANT = "paper"


# --- recruitment and follow-up ----------------------------------------------------------

def _due_before() -> dt.date:
    """Baselines dated before this day have a closed follow-up window (patients.worklist).

    window_end(b) < today  <=>  b < today - (window_end(today) - today): the window rule
    stays in followup_dates, and the comparison runs in the database.
    """
    today = timezone.localdate()
    return today - (followup_dates(today).window_end - today)


RECRUITMENT_ROWS = [
    ("recruited", "Recruited"),
    ("baseline", "Baseline complete"),
    ("followup", "Follow-up complete"),
    ("lost", "Lost to follow-up"),
    # a withdrawal is counted once, as "Consent withdrawn" (issue 14): the lost rows count
    # the other reasons, though the service also records a withdrawal as lost (withdrew)
    *[(f"lost_{value}", f"– {label.lower()}") for value, label in LostReason.choices
      if value != LostReason.WITHDREW],
    ("withdrawn", "Consent withdrawn"),
    ("due", "Follow-up window closed (due)"),
    ("due_followup", "– of these, follow-up complete"),
]


def recruitment_table() -> dict[str, Any]:
    """Counts by clinic and overall, in three queries whatever the cohort's size.

    Patients' own fields are counted on the patient table; baselines, follow-ups and
    patients already due on the complete baselines joined to their follow-ups (one
    administration per patient and timepoint): a per-patient EXISTS for each took over a
    second at 100,000 patients. A follow-up is only entered after a baseline.
    """
    lost = Q(followup_status=FollowUpStatus.LOST) & ~Q(lost_reason=LostReason.WITHDREW)
    by_clinic: dict[str, Counter] = {}
    patients = (Patient.objects.order_by().values("clinic__code")
                .annotate(recruited=Count("pk"),
                          lost=Count("pk", filter=lost),
                          withdrawn=Count("pk", filter=Q(withdrawal__isnull=False)),
                          **{f"lost_{value}": Count("pk", filter=lost & Q(lost_reason=value))
                             for value in LostReason.values}))
    cutoff = _due_before()
    complete = Q(status=AdministrationStatus.COMPLETE)
    baselines = Administration.objects.filter(complete, timepoint=Timepoint.BASELINE).order_by()
    # each complete baseline with its patient's complete follow-up, if any (one join)
    followup = FilteredRelation("patient__administrations", condition=Q(
        patient__administrations__timepoint=Timepoint.FOLLOWUP,
        patient__administrations__status=AdministrationStatus.COMPLETE))
    due = Q(administered_on__lt=cutoff)
    administrations = (baselines.annotate(followup_row=followup)
                       .values("patient__clinic__code")
                       .annotate(baseline=Count("pk"), followup=Count("followup_row"),
                                 due=Count("pk", filter=due),
                                 due_followup=Count("followup_row", filter=due)))
    for rows, key in ((patients, "clinic__code"), (administrations, "patient__clinic__code")):
        for row in rows:
            by_clinic.setdefault(row.pop(key), Counter()).update(row)
    clinics = list(Clinic.objects.order_by("code").values_list("code", "name"))
    overall = Counter()
    for row in by_clinic.values():
        overall.update(row)
    columns = [("overall", "Overall"), *clinics]
    rows = []
    for key, label in RECRUITMENT_ROWS:
        cells = [overall.get(key, 0)] + [by_clinic.get(code, {}).get(key, 0)
                                         for code, _ in clinics]
        rows.append({"key": key, "label": label, "cells": cells,
                     "detail": key.startswith("lost_") or key == "due_followup"})
    return {"columns": columns, "rows": rows, "overall": dict(overall)}


def recruitment_series() -> tuple[list[str], list[int], list[int]]:
    """Patients recruited and follow-ups completed by calendar month (two queries)."""
    recruited = dict(Patient.objects.annotate(month=TruncMonth("consented_on"))
                     .order_by().values("month").annotate(n=Count("pk"))
                     .values_list("month", "n"))
    completed = dict(Administration.objects
                     .filter(timepoint=Timepoint.FOLLOWUP, status=AdministrationStatus.COMPLETE)
                     .annotate(month=TruncMonth("administered_on"))
                     .order_by().values("month").annotate(n=Count("pk"))
                     .values_list("month", "n"))
    months = sorted({_month(m) for m in [*recruited, *completed] if m is not None})
    if not months:
        return [], [], []
    every = _month_range(months[0], months[-1])
    recruited_by = Counter({_month(m): n for m, n in recruited.items() if m is not None})
    completed_by = Counter({_month(m): n for m, n in completed.items() if m is not None})
    return ([m.strftime("%Y-%m") for m in every], [recruited_by[m] for m in every],
            [completed_by[m] for m in every])


def _month(value: dt.date | dt.datetime) -> dt.date:
    return dt.date(value.year, value.month, 1)


def _month_range(first: dt.date, last: dt.date) -> list[dt.date]:
    months, current = [], first
    while current <= last:
        months.append(current)
        current = dt.date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return months


def target_summary(overall: dict[str, int], analysed: dict[str, int] | None = None
                   ) -> dict[str, Any]:
    """The target against the completers and against the patients Table 2 analyses.

    The follow-up rate (and the recruitment it projects) is among patients already due,
    whose follow-up window has closed: those still inside their window would lower it.
    """
    target = study_target_get()
    calculation = sample_size(standardised_difference=target.standardised_difference,
                              power=target.power, alpha=target.alpha)
    completers, due = overall.get("followup", 0), overall.get("due", 0)
    rate = overall.get("due_followup", 0) / due if due else None
    fewest = analysed["fewest"] if analysed else None
    return {"target": target, "calculation": calculation, "completers": completers,
            "percent": round(100 * completers / calculation.completers, 1),
            "remaining": max(calculation.completers - completers, 0),
            "due": due, "due_followup": overall.get("due_followup", 0),
            "followup_rate": rate,
            "followup_percent": None if rate is None else round(100 * rate, 1),
            "recruits_needed": calculation.recruits_needed(followup_rate=rate),
            "analysed": analysed,
            "analysed_remaining": None if fewest is None
            else max(calculation.completers - fewest, 0)}


def analysed_counts(table2: dict) -> dict[str, int] | None:
    """Fewest and most patients analysed by the published models of the run."""
    counts = [m["n_patients"] for m in table2.get("models", [])
              if m["variant"] == DEFAULT_VARIANT and m.get("ok")]
    return {"fewest": min(counts), "most": max(counts)} if counts else None


def target_preview(form) -> Any:
    """The calculation for the inputs in a (bound and valid) form, else for the stored ones."""
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        return sample_size(standardised_difference=data["standardised_difference"],
                           power=data["power"], alpha=data["alpha"])
    target = form.instance
    return sample_size(standardised_difference=target.standardised_difference,
                       power=target.power, alpha=target.alpha)


# --- the stored run: Tables 1 and 2, change ------------------------------------------------

def _cell_text(kind: str, cell: dict | None) -> str:
    if not cell:
        return "–"
    if kind == "median_range":
        if cell.get("median") is None:
            return "–"
        if cell.get("q1") is None:  # a run stored before quartiles were kept
            return f"{cell['median']:g} ({cell['min']:g}–{cell['max']:g})"
        return (f"{cell['median']:g} (IQR {cell['q1']:g}–{cell['q3']:g}; "
                f"range {cell['min']:g}–{cell['max']:g})")
    if kind == "categorical":
        if cell.get("percent") is None:
            return str(cell.get("count", 0))
        return f"{cell['count']} ({cell['percent']:.1f} %)"
    if cell.get("mean") is None:
        return "–"
    sd = "–" if cell.get("sd") is None else f"{cell['sd']:.1f}"
    return f"{cell['mean']:.1f} ({sd})"


_KIND_STAT = {"median_range": "median (IQR; range)", "categorical": "n (%)",
              "mean_sd": "mean (SD)"}


def table1_layout(table1: dict) -> dict[str, Any]:
    """Table 1 as rows of text cells, laid out like the paper's."""
    columns = table1.get("columns", [])
    keys = [column["key"] for column in columns]
    blocks = []
    for variable in table1.get("variables", []):
        kind = variable.get("kind", "")
        rows = [{"label": row["label"],
                 "cells": [_cell_text(kind, row.get("cells", {}).get(key)) for key in keys]}
                for row in variable.get("rows", [])]
        blocks.append({"label": variable["label"], "statistic": _KIND_STAT.get(kind, ""),
                       "test": variable.get("test") or "", "p": format_p(variable.get("p")),
                       "rows": rows, "single": len(rows) == 1,
                       "small_expected": bool(variable.get("small_expected")),
                       "fisher": _fisher_text(variable)})
    return {"columns": columns, "blocks": blocks, "population": table1.get("population", "")}


def _fisher_text(variable: dict) -> str:
    """Fisher's exact p beside a chi-square whose expected counts are small."""
    if not variable.get("small_expected"):
        return ""
    least = variable.get("min_expected")
    where = f"smallest expected count {least:.1f}" if least is not None else "expected count < 5"
    if variable.get("fisher_p") is None:
        return f"{where}; too many patients for Fisher's exact test"
    return f"{where}; Fisher's exact p {format_p(variable['fisher_p'])}"


def _coef_text(term: dict) -> tuple[str, str]:
    """The coefficient and, beneath it, its 95 % CI, as the paper prints them."""
    if term.get("coef") is None:
        return "–", ""
    if term.get("ci_low") is None or term.get("ci_high") is None:
        return f"{term['coef']:.2f}", ""
    return f"{term['coef']:.2f}", f"({term['ci_low']:.2f} to {term['ci_high']:.2f})"


def table2_layout(table2: dict, variant: str, headline: str = "z") -> dict[str, Any]:
    """Table 2 for one model variant: terms as rows, outcomes as columns.

    `headline` ("z", "satterthwaite", "kenward-roger") chooses the inference the cells show;
    a model without it shows its z results, marked, with the reason as a note.
    """
    outcomes = table2.get("outcomes", [])
    models = {m["outcome"]: m for m in table2.get("models", []) if m["variant"] == variant}
    fallbacks: dict[str, str] = {}
    if headline != "z":
        shown = {}
        for key, model in models.items():
            terms, why = dashboard_checks.headline_terms(model, headline)
            shown[key] = {**model, "terms": terms}
            if why:
                fallbacks[key] = why
        models = shown
    term_order: list[tuple[str, str]] = []
    for outcome in outcomes:
        for term in (models.get(outcome["key"]) or {}).get("terms", []):
            label = term.get("label") or term["term"]
            if term.get("reference"):
                label += f" (ref. {term['reference']})"
            if (term["term"], label) not in term_order:
                term_order.append((term["term"], label))
    rows = []
    for name, label in term_order:
        cells = []
        for outcome in outcomes:
            terms = {t["term"]: t for t in (models.get(outcome["key"]) or {}).get("terms", [])}
            term = terms.get(name)
            coef, ci = _coef_text(term) if term else ("–", "")
            cells.append({"coef": coef, "ci": ci, "p": format_p(term.get("p")) if term else ""})
        rows.append({"label": label, "cells": cells})
    footer = [{"outcome": o["label"], "model": models.get(o["key"]),
               "badges": model_badges(models.get(o["key"]))
               + headline_badges(fallbacks, o["key"], headline)} for o in outcomes]
    notes = compact_marks(footer)
    return {"outcomes": outcomes, "rows": rows, "models": footer, "notes": notes,
            "components": variance_rows([models.get(o["key"]) for o in outcomes]),
            "flagged": any(item["badges"] or item["marks"] for item in footer),
            "few_clinics": few_clinics_note([models.get(o["key"]) for o in outcomes]),
            "not_in_population": table2.get("not_in_population") or {}}


def compact_marks(footer: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Move the "variance 0" warnings out of the table cells into footnotes.

    Each cell keeps a one-line mark ("Clinic variance 0" with a note letter) and the
    explanation is printed once beneath the table: five tall boxes inside the table
    (issue 14) pushed the numbers apart. Errors (not fitted, not converged) stay as badges.
    Sets item["marks"] on each footer item; returns the notes in letter order.
    """
    notes: dict[str, dict[str, Any]] = {}
    for item in footer:
        item["marks"] = []
        kept = []
        for badge in item["badges"]:
            if badge["tone"] != "warning":
                kept.append(badge)
                continue
            note = notes.setdefault(badge["label"], {
                "letter": "abcdefgh"[len(notes)], "label": badge["label"],
                "text": badge["text"].removeprefix(badge["label"] + ": "),
                "id": "table2-note-" + badge["label"].lower().replace(" ", "-"),
                "outcomes": []})
            note["outcomes"].append(item["outcome"])
            item["marks"].append({"label": badge["label"], "letter": note["letter"],
                                  "id": note["id"]})
        item["badges"] = kept
    return list(notes.values())


def headline_badges(fallbacks: dict[str, str], outcome: str, headline: str
                    ) -> list[dict[str, str]]:
    """A warning mark where the headline's t results are missing and z is shown instead;
    one note per distinct reason (numbered when the models' reasons differ)."""
    if outcome not in fallbacks:
        return []
    name = dashboard_checks.METHOD_NAMES[headline]
    reasons = list(dict.fromkeys(fallbacks.values()))
    label = f"{name}: z shown"
    if len(reasons) > 1:
        label += f" ({reasons.index(fallbacks[outcome]) + 1})"
    why = fallbacks[outcome]
    return [{"tone": "warning", "label": label,
             "text": f"{label}: {why[0].upper() + why[1:]}. This model's cells show its z "
                     "results (normal approximation) instead."}]


FEW_CLINICS = 5


def few_clinics_note(models: list[dict | None]) -> str:
    """A warning when fewer than 5 clinics inform the clinic variance (issue 19).

    With so few clusters the clinic variance, its ICC and the CIs that depend on it are
    very imprecise; "" when every fitted model has 5 clinics or more.
    """
    counts = sorted({m["n_clinics"] for m in models
                     if m and m.get("ok") and m.get("n_clinics") is not None})
    if not counts or counts[0] >= FEW_CLINICS:
        return ""
    few = [count for count in counts if count < FEW_CLINICS]
    many = (f"{few[0]} clinic{'s' if few[0] != 1 else ''}" if len(few) == 1
            else f"{few[0]} to {few[-1]} clinics")
    if len(few) < len(counts):
        many += " in some models"
    return (f"The clinic variance is estimated from only {many} (fewer than {FEW_CLINICS}): "
            "it, the clinic ICC and the CIs that depend on it are very imprecise, and an "
            "estimate of 0 is common even when the clinics do differ.")


def model_badges(model: dict | None) -> list[dict[str, str]]:
    """What a reader must know before using a model's CIs: not fitted, not converged, or
    a variance at 0. Each badge has a short label (shown in the table) and its meaning."""
    if not model:
        return []
    if not model.get("ok"):
        return [{"tone": "error", "label": "Not fitted",
                 "text": f"Not fitted: {model.get('error')}"}]
    badges = []
    if not model.get("converged"):
        badges.append({"tone": "error", "label": "Not converged",
                       "text": "Not converged: " + NOT_CONVERGED})
    for level in zero_variance_levels(model):
        badges.append({"tone": "warning", "label": f"{level.capitalize()} variance 0",
                       "text": f"{level.capitalize()} variance 0: "
                               + ZERO_VARIANCE.format(level=level)})
    return badges


VARIANCE_ROWS = [
    ("variance", "clinic", "Variance: clinic"),
    ("variance", "patient", "Variance: patient"),
    ("variance", "residual", "Variance: residual (within patient)"),
    ("icc", "clinic", "ICC clinic"),
    ("icc", "patient", "ICC patient|clinic (pools clinic and patient)"),
]


def variance_rows(models: list[dict | None]) -> list[dict[str, Any]]:
    """Variance components and ICCs (Stata's estat icc) as rows of text, one cell a model."""
    rows = []
    for kind, level, label in VARIANCE_ROWS:
        cells = []
        for model in models:
            values = (model or {}).get("variances" if kind == "variance" else "icc", {})
            value = values.get(level)
            cells.append("–" if value is None else
                         (f"{value:.2f}" if kind == "variance" else f"{value:.3f}"))
        rows.append({"label": label, "cells": cells, "icc": kind == "icc"})
    return rows


def forest_plots(table2: dict, variant: str) -> list[plots.Plot]:
    labels = {o["key"]: o["label"] for o in table2.get("outcomes", [])}
    return [plots.forest_plot(key=f"forest-{m['outcome']}", outcome=labels[m["outcome"]],
                              terms=m.get("terms", []))
            for m in table2.get("models", []) if m["variant"] == variant and m.get("ok")]


def change_plots(results: dict) -> list[plots.Plot]:
    """Baseline against follow-up for partnership and each PIH score (paired patients)."""
    result = []
    for change in results.get("change", {}).get("rows", []):
        code = change["key"]
        scale = SCALES_BY_CODE.get(code)
        if scale is None:
            continue
        # SDs of the paired patients, the same as the means and the change (runs stored
        # before schema 2 lack them: no bars rather than another population's SDs)
        result.append(plots.change_plot(
            key=f"change-{code}", label=change["label"], n=change.get("n"),
            baseline=(change.get("baseline_mean"), change.get("baseline_sd")),
            followup=(change.get("followup_mean"), change.get("followup_sd")),
            scale=(scale.minimum, scale.maximum), change=change))
    return result


# --- freshness --------------------------------------------------------------------------

def freshness(last: ModelRun | None) -> dict[str, Any]:
    changes = selectors.changes_since_last_fit()
    failed = ModelRun.objects.filter(status=RunStatus.FAILED)
    if last is not None:
        failed = failed.filter(created_at__gt=last.created_at)
    return {"changes": changes, "in_progress": changes.in_progress,
            "failed": failed.order_by("-created_at", "-id").defer("results").first(),
            # without a worker (the embedded default) nothing refits until "Refit now"
            "automatic": not runs_eagerly()}


def refit_now(*, by: AbstractBaseUser) -> str:
    """The "Refit now" button: queue a run through the analysis engine's service."""
    run, outcome = model_run_request_now(by=by, trigger="Refit now (dashboard)")
    return REFIT_NOW_MESSAGES[outcome].format(run=run.pk)


REFIT_NOW_MESSAGES = {
    "unchanged": "The data has not changed since the last successful run: nothing to refit.",
    "done": "Refit done (run {run}): the tables below are up to date.",
    "queued": "Refit queued (run {run}): a worker starts it within a minute. Reload the "
              "page to see the new results.",
}


# --- the whole page ---------------------------------------------------------------------

def interview_summary() -> dict[str, int]:
    counts = dict(InterviewContact.objects.order_by().values("status")
                  .annotate(n=Count("pk")).values_list("status", "n"))
    return {label: counts.get(value, 0) for value, label in InterviewStatus.choices}


def run_outdated(run: ModelRun | None, results: dict) -> str:
    """Why a stored run no longer matches what the analysis computes ("" if it does)."""
    if run is None:
        return ""
    if results.get("schema", 1) < 2 or \
            (run.versions or {}).get("analysis", ANALYSIS_VERSION) != ANALYSIS_VERSION:
        return ("This run was computed by an earlier version of the analysis (before the "
                "paper's population rule and Table 1 tests): refit to update it.")
    if results.get("schema", 1) < SCHEMA_VERSION:
        return ("This run was computed before the small-sample inference, variance-component "
                "tests, diagnostics and missing-data analyses were added: its tables are "
                "right, those sections are missing. Refit to add them.")
    return ""


def dashboard_context(*, variant: str = DEFAULT_VARIANT, diagnostics: str = ""
                      ) -> dict[str, Any]:
    """The page's context; `diagnostics` names the outcome whose plots are drawn."""
    run = selectors.latest_successful_run()
    results = (run.results or {}) if run else {}
    # counted again after each data change (and daily: "due" moves with the calendar)
    recruitment, (months, recruited, completed) = recent(
        f"recruitment:{_due_before().isoformat()}",
        lambda: (recruitment_table(), recruitment_series()), max_age=24 * 3600)
    overall = recruitment["overall"]
    table2 = results.get("table2", {})
    target = target_summary(overall, analysed_counts(table2))
    variants = [v for v in VARIANTS if any(m["variant"] == v["key"]
                                           for m in table2.get("models", []))]
    if variant not in {v["key"] for v in variants}:
        variant = DEFAULT_VARIANT
    options = results.get("options", {})
    estimation = "REML" if options.get("reml") else "ML"
    table1 = table1_layout(results.get("table1", {})) if results else None
    headline = dashboard_checks.headline(target["target"].headline_inference, table2,
                                         estimation=estimation)
    return {
        "run": run,
        "results": results,
        "outdated": run_outdated(run, results),
        "population_label": population_label(options.get("population", "")),
        "estimation": estimation,
        "recruitment": recruitment,
        "target": target,
        "recruitment_plot": plots.recruitment_plot(
            months=months, recruited=recruited, completed=completed,
            target=target["calculation"].completers),
        "table1": table1,
        "table2": table2_layout(table2, variant, headline["method"]) if results else None,
        "headline": headline,
        "has_checks": dashboard_checks.has_checks(results),
        "inference": dashboard_checks.inference_layout(table2, variant, estimation=estimation)
        if results else [],
        "components": dashboard_checks.components_layout(table2, variant) if results else None,
        "attrition": dashboard_checks.attrition_layout(results, table1_layout)
        if results else None,
        "diagnostics": dashboard_checks.diagnostics_layout(table2, variant, diagnostics)
        if results else None,
        "variant": next((v for v in variants if v["key"] == variant), None),
        "variants": variants,
        "table1_tests": sum(1 for block in table1["blocks"] if block["p"] != "–")
        if table1 else 0,
        "forest_plots": forest_plots(table2, variant) if results else [],
        "change_plots": change_plots(results) if results else [],
        "freshness": freshness(run),
        "interviews": interview_summary(),
        # issue 11: follow-up completion by mode and after each reminder (live counts)
        "outreach": outreach_summary_recent(due_before=_due_before()),
    }
