"""A freeze's tables on the dashboard (`?freeze=ID`): its stored results, laid out by the
dashboard's own functions, so the table templates render them as they render a run's."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..models import DatasetFreeze
from ..pages import dashboard, dashboard_checks
from ..selectors import study_target_get
from ..stats.results import VARIANTS, population_label


@dataclass(frozen=True)
class FrozenFit:
    """What the table templates read of a run (`run.pk`, `run.finished_at`)."""

    pk: str
    finished_at: dt.datetime


def freeze_dashboard_context(*, freeze: DatasetFreeze, variant: str) -> dict[str, Any]:
    results = freeze.results or {}
    table2 = results.get("table2", {})
    variants = [v for v in VARIANTS
                if any(m["variant"] == v["key"] for m in table2.get("models", []))]
    if variant not in {v["key"] for v in variants}:
        variant = dashboard.DEFAULT_VARIANT
    options = results.get("options", {})
    estimation = "REML" if options.get("reml") else "ML"
    table1 = dashboard.table1_layout(results.get("table1", {}))
    # Table 2 under the study's headline setting, as the dashboard shows a run; a freeze
    # stored before schema 3 has no t results and shows z.
    headline = dashboard_checks.headline(study_target_get().headline_inference, table2,
                                         estimation=estimation)
    return {
        "freeze": freeze,
        "results": results,
        "run": FrozenFit(pk=f"for freeze {freeze.pk}", finished_at=freeze.created_at),
        "population_label": population_label(options.get("population", "")),
        "estimation": estimation,
        "table1": table1,
        "table1_tests": sum(1 for block in table1["blocks"] if block["p"] != "–"),
        "table2": dashboard.table2_layout(table2, variant, headline["method"]),
        "headline": headline,
        "has_checks": dashboard_checks.has_checks(results),
        "inference": dashboard_checks.inference_layout(table2, variant, estimation=estimation),
        "components": dashboard_checks.components_layout(table2, variant),
        "variant": next((v for v in variants if v["key"] == variant), None),
        # Table 2's own variant links ("?variant=...") would drop ?freeze=: the freeze page
        # links the variants itself (freeze_variants), and _table2.html gets none.
        "variants": [],
        "freeze_variants": variants,
        "forest_plots": dashboard.forest_plots(table2, variant),
        "change_plots": dashboard.change_plots(results),
    }
