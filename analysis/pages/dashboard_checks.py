"""The dashboard's issue-19 sections, laid out from the stored run (results.py, schema 3).

Small-sample inference beside the z results, the variance-component tests, profile CIs
and information criteria, the loss to follow-up (comparison, MI, IPW, tipping point, the
partnership coefficient under every approach) and the model diagnostics. A run stored
before schema 3 lacks these keys: every function here then returns empty parts, and the
page says to refit.
"""
from __future__ import annotations

from typing import Any

from ..stats.results import (
    HEADLINE_CHOICES,
    INFERENCE_METHODS,
    KR_BELOW_CLINICS,
    format_p,
    headline_method,
)
from . import plots

METHOD_NAMES = {"z": "z", "satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger"}


def _models(table2: dict, variant: str) -> list[tuple[dict, dict | None]]:
    """(outcome, model or None) in outcome order for one variant."""
    models = {m["outcome"]: m for m in table2.get("models", []) if m["variant"] == variant}
    return [(o, models.get(o["key"])) for o in table2.get("outcomes", [])]


def has_checks(results: dict) -> bool:
    """Whether the run stored the issue-19 parts (schema 3 or later)."""
    return any("inference" in m for m in results.get("table2", {}).get("models", []))


# --- the headline -----------------------------------------------------------------------

def headline(setting: str, table2: dict, *, estimation: str) -> dict[str, Any]:
    """Which inference Table 2 shows first, and the sentence that says why."""
    counts = [m["n_clinics"] for m in table2.get("models", []) if m.get("ok")]
    clinics = max(counts) if counts else None
    method = headline_method(setting, clinics)
    if not has_checks({"table2": table2}):
        method = "z"
    choice = dict(HEADLINE_CHOICES).get(setting, setting)
    if method == "z":
        label = f"z ({estimation}, normal approximation, as the paper)"
    else:
        label = f"{METHOD_NAMES[method]} t (REML estimates, t-based p and CIs)"
    reason = f"study setting: {choice}"
    if setting == "auto" and clinics is not None:
        reason += (f"; the models have {clinics} clinic{'s' if clinics != 1 else ''}, "
                   f"{'fewer' if clinics < KR_BELOW_CLINICS else 'not fewer'} than "
                   f"{KR_BELOW_CLINICS}")
    return {"method": method, "label": label, "reason": reason}


def headline_terms(model: dict, method: str) -> tuple[list[dict], str | None]:
    """The terms Table 2 shows for a model under `method`, and a note where it falls back
    to the z results (the method could not be computed for this model)."""
    if method == "z" or not model.get("ok"):
        return model.get("terms", []), None
    inference = model.get("inference") or {}
    chosen = next((m for m in inference.get("methods", []) if m["key"] == method), None)
    if chosen and chosen.get("ok") and chosen.get("terms"):
        labels = {t["term"]: t for t in model.get("terms", [])}
        return [{**labels.get(t["term"], {}), **t} for t in chosen["terms"]], None
    why = (chosen or {}).get("note") or inference.get("error") or \
        "the run did not compute it"
    return model.get("terms", []), why


# --- small-sample inference beside z ----------------------------------------------------

def _cell(term: dict | None) -> dict[str, str]:
    if not term or term.get("coef") is None:
        return {"coef": "–", "ci": "", "p": "", "df": ""}
    ci = ("" if term.get("ci_low") is None or term.get("ci_high") is None
          else f"({term['ci_low']:.2f} to {term['ci_high']:.2f})")
    df = term.get("df")
    return {"coef": f"{term['coef']:.2f}", "ci": ci, "p": format_p(term.get("p")),
            "df": "" if df is None else f"{df:.1f}"}


def inference_layout(table2: dict, variant: str, *, estimation: str) -> list[dict[str, Any]]:
    """Per model: each term under the run's z, REML z, Satterthwaite and Kenward-Roger."""
    out = []
    for outcome, model in _models(table2, variant):
        if not model or not model.get("ok") or "inference" not in model:
            continue
        inference = model["inference"]
        methods = {m["key"]: m for m in inference.get("methods", [])}
        columns = [{"key": "run", "label": f"z ({estimation}, as Table 2)", "ok": True,
                    "note": None}]
        columns += [{"key": key, "label": label, "ok": bool(methods.get(key, {}).get("ok")),
                     "note": methods.get(key, {}).get("note")}
                    for key, label in INFERENCE_METHODS]
        for column in columns:
            column["has_df"] = column["key"] not in ("run", "z")
        by_method = {"run": {t["term"]: t for t in model.get("terms", [])}}
        for key in methods:
            by_method[key] = {t["term"]: t for t in methods[key].get("terms", [])}
        rows = []
        for term in model.get("terms", []):
            label = term.get("label") or term["term"]
            if term.get("reference"):
                label += f" (ref. {term['reference']})"
            rows.append({"label": label, "partnership": term["term"] == "partnership",
                         "cells": [{**_cell(by_method.get(c["key"], {}).get(term["term"])),
                                    "show_df": c["has_df"]} for c in columns]})
        notes = sorted({c["note"] for c in columns if c["note"]})
        if inference.get("error"):
            notes.append(inference["error"])
        out.append({"outcome": outcome["label"], "key": outcome["key"], "columns": columns,
                    "rows": rows, "notes": notes})
    return out


# --- variance components: tests, profile CIs, AIC and BIC ---------------------------------

PROFILE_ROWS = [("variance:clinic", "Variance: clinic"), ("variance:patient", "Variance: patient"),
                ("variance:residual", "Variance: residual"), ("icc:clinic", "ICC clinic"),
                ("icc:patient", "ICC patient|clinic")]


def _interval_text(row: dict | None, kind: str) -> str:
    if not row or row.get("estimate") is None:
        return "–"
    digits = 3 if kind == "icc" else 2
    high = "no upper bound" if row.get("high") is None else f"{row['high']:.{digits}f}"
    low = "–" if row.get("low") is None else f"{row['low']:.{digits}f}"
    return f"{row['estimate']:.{digits}f} ({low} to {high})"


def components_layout(table2: dict, variant: str) -> dict[str, Any] | None:
    """LRT per level, profile CIs and AIC/BIC: one column per outcome."""
    pairs = _models(table2, variant)
    if not any(m and "variance_tests" in m for _, m in pairs):
        return None
    rows, notes = [], set()
    for level, label in (("clinic", "LRT clinic variance = 0"),
                         ("patient", "LRT patient variance = 0")):
        cells = []
        for _, model in pairs:
            tests = {t["level"]: t for t in ((model or {}).get("variance_tests") or {})
                     .get("levels", [])}
            test = tests.get(level)
            if not test or test.get("statistic") is None:
                cells.append("–" if not test else (test.get("note") or "–"))
                continue
            cells.append(f"χ̄² {test['statistic']:.2f}, p {format_p(test.get('p'))}")
            if test.get("note"):
                notes.add(test["note"])
        rows.append({"label": label, "cells": cells})
    for key, label in (("aic", "AIC"), ("bic", "BIC")):
        rows.append({"label": label, "cells": [
            "–" if not m or m.get(key) is None else f"{m[key]:.1f}" for _, m in pairs]})
    for parameter, label in PROFILE_ROWS:
        cells = []
        for _, model in pairs:
            found = {r["parameter"]: r for r in (model or {}).get("profile_ci", [])}
            row = found.get(parameter)
            cells.append(_interval_text(row, parameter.split(":")[0]))
            if row and row.get("note"):
                notes.add(row["note"])
        rows.append({"label": f"{label}, 95 % profile CI", "cells": cells})
    for _, model in pairs:
        note = ((model or {}).get("variance_tests") or {}).get("note")
        if note:
            notes.add(note)
    estimation = next(((m.get("variance_tests") or {}).get("estimation") for _, m in pairs
                       if m and m.get("variance_tests")), "ML")
    return {"outcomes": [o["label"] for o, _ in pairs], "rows": rows,
            "notes": sorted(notes), "estimation": estimation}


# --- attrition: comparison, MI, IPW, tipping point, partnership side by side ---------------

def _estimate_text(estimate: dict) -> dict[str, str]:
    if estimate.get("coef") is None:
        return {"coef": "–", "ci": "", "p": "", "df": "", "note": estimate.get("note") or ""}
    cell = _cell(estimate)
    return {**cell, "note": estimate.get("note") or ""}


def partnership_layout(results: dict) -> dict[str, Any] | None:
    rows = results.get("partnership")
    if not rows:
        return None
    labels = [e["label"] for e in rows[0]["estimates"]]
    notes: dict[str, str] = {}
    out = []
    for row in rows:
        cells = []
        for estimate in row["estimates"]:
            cell = _estimate_text(estimate)
            if cell["note"] and estimate.get("coef") is None:
                letter = notes.setdefault(cell["note"], "abcdefghij"[len(notes) % 10])
                cell["letter"] = letter
            cells.append(cell)
        out.append({"label": row["label"], "cells": cells})
    return {"columns": labels, "rows": out,
            "notes": [{"letter": letter, "text": text} for text, letter in notes.items()]}


def attrition_layout(results: dict, table1_layout) -> dict[str, Any] | None:
    """The section's parts; `table1_layout` lays the comparison out as Table 1 is."""
    attrition = results.get("attrition")
    if not attrition:
        return None
    comparison = table1_layout({"columns": attrition.get("groups", []),
                                "variables": attrition.get("variables", [])})
    mi, ipw = attrition.get("mi"), attrition.get("ipw")
    tipping = attrition.get("tipping_point")
    return {"comparison": comparison, "groups": attrition.get("groups", []),
            "lost_reasons": [r for r in attrition.get("lost_reasons", []) if r["n"]],
            "not_yet_due": attrition.get("not_yet_due", 0),
            "mi": mi, "ipw": ipw, "weights": (ipw or {}).get("weights") or {},
            "tipping": tipping_layout(tipping) if tipping else None,
            "partnership": partnership_layout(results),
            "analysed": mi is not None or ipw is not None}


def tipping_layout(tipping: dict) -> dict[str, Any]:
    return {"note": tipping.get("note", ""), "delta": tipping.get("tipping_delta"),
            "outcome": tipping.get("outcome"),
            "rows": [{"delta": f"{r['delta']:g}", **_cell({**r, "coef": r.get("estimate")})}
                     for r in tipping.get("grid", [])]}


# --- diagnostics ---------------------------------------------------------------------------

DEFAULT_DIAGNOSTICS = "pih_overall"


def diagnostics_layout(table2: dict, variant: str, chosen: str = "") -> dict[str, Any]:
    """The plots of one model of the variant (`chosen` outcome, else PIH overall):
    residuals against fitted values and the Q-Q plots; the other models as links.

    One model at a time: four plots of up to 400 points each for every model would make
    the page several times heavier than all the rest of it.
    """
    pairs = [(o, m) for o, m in _models(table2, variant) if (m or {}).get("diagnostics")]
    keys = [o["key"] for o, _ in pairs]
    if chosen not in keys:
        chosen = DEFAULT_DIAGNOSTICS if DEFAULT_DIAGNOSTICS in keys else (keys or [""])[0]
    out = {"outcomes": [{"key": o["key"], "label": o["label"], "current": o["key"] == chosen}
                        for o, _ in pairs], "model": None}
    for outcome, model in pairs:
        if outcome["key"] != chosen:
            continue
        diagnostics = model["diagnostics"]
        label, key = outcome["label"], outcome["key"]
        if diagnostics.get("note") or not diagnostics.get("residuals"):
            out["model"] = {"outcome": label, "note": diagnostics.get("note"), "plots": []}
            continue
        figures = [plots.residual_plot(key=f"resid-{key}", outcome=label,
                                       residuals=diagnostics["residuals"])]
        figures += [plots.qq_plot(key=f"qq-{qq['key']}-{key}", outcome=label, qq=qq)
                    for qq in diagnostics.get("qq", [])]
        out["model"] = {"outcome": label, "note": None, "plots": figures}
    return out
