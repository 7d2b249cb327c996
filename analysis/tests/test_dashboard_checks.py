"""Issue 19 on the dashboard: small-sample inference beside z with the headline setting,
variance tests and profile CIs, the loss to follow-up, diagnostics plots; old runs.

The page is drawn from a stored run of the demo cohort (data/demo_results.json.gz, written
by make_demo_results.py), so no test computes the slow parts."""
from __future__ import annotations

import copy
import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.urls import reverse
from django.utils import timezone

from analysis.models import ModelRun, RunStatus, StudyTarget
from analysis.stats.cohort import ANALYSIS_VERSION

DEMO = Path(__file__).resolve().parent / "data" / "demo_results.json.gz"


@pytest.fixture(scope="module")
def demo_results() -> dict:
    with gzip.open(DEMO, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _store(results: dict) -> ModelRun:
    now = timezone.now()
    return ModelRun.objects.create(status=RunStatus.SUCCEEDED, results=results,
                                   options=results["options"], started_at=now,
                                   finished_at=now, versions={"analysis": ANALYSIS_VERSION})


def _page(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("analysis:dashboard"))
    assert response.status_code == 200
    return " ".join(response.content.decode().split())


def _model(results, outcome, variant="paper"):
    return next(m for m in results["table2"]["models"]
                if (m["outcome"], m["variant"]) == (outcome, variant))


def test_demo_run_shows_every_issue_19_section(client, researcher, demo_results):
    _store(demo_results)
    html = _page(client, researcher)
    for testid in ("table2-headline", "inference-pih_overall", "components",
                   "attrition-table", "partnership-side-by-side", "mi-summary", "ipw-summary",
                   "tipping-summary", "tipping-table"):
        assert f'data-testid="{testid}"' in html, testid
    # one model's plots at a time (PIH overall first): residuals + 3 Q-Q plots, each with
    # a title, axis titles and a data table; links to the other four models
    assert html.count('data-testid="diagnostics-model"') == 1
    assert len(re.findall(r'<figure class="plot-figure" id="(?:resid|qq-[a-z]+)-pih_overall"',
                          html)) == 4
    assert html.count("&amp;diagnostics=") == 4
    assert "Normal quantile" in html and "Fitted value" in html
    assert "AIC" in html and "BIC" in html and "95 % profile CI" in html
    assert "{#" not in html and "#}" not in html


def test_diagnostics_of_another_model_on_request(client, researcher, demo_results):
    _store(demo_results)
    client.force_login(researcher)
    html = client.get(reverse("analysis:dashboard"),
                      {"diagnostics": "pih_knowledge"}).content.decode()
    assert 'id="resid-pih_knowledge"' in html and 'id="resid-pih_overall"' not in html
    assert "Clinic effects (BLUPs)" in html
    # the demo's clinic variance is 0: its Q-Q plot says every predicted effect is 0
    assert "Variance estimated at 0: every predicted effect is 0." in html


def test_three_clinics_headline_is_kenward_roger_with_z_shown_where_it_is_missing(
        client, researcher, demo_results):
    _store(demo_results)
    html = _page(client, researcher)
    assert "Shown: Kenward-Roger t" in html
    assert "the models have 3 clinics, fewer than 10" in html
    # every demo model has its clinic variance at 0 under REML: KR is not computed, the
    # cells show the z results, marked, and the note says why in plain words
    assert "Kenward-Roger: z shown" in html
    assert "the clinic variance is estimated at 0 (on the boundary)" in html.replace(
        "The clinic", "the clinic")
    partnership = next(t for t in _model(demo_results, "pih_overall")["terms"]
                       if t["term"] == "partnership")
    table2 = html.split('data-testid="table2"')[1].split("</table>")[0]
    assert f"{partnership['coef']:.2f}" in table2
    assert f"({partnership['ci_low']:.2f} to {partnership['ci_high']:.2f})" in table2


def test_headline_setting_z_shows_z_without_marks(client, researcher, demo_results):
    _store(demo_results)
    StudyTarget.objects.create(headline_inference="z")
    html = _page(client, researcher)
    assert "Shown: z (ML" in html
    assert "Kenward-Roger: z shown" not in html


def test_headline_uses_t_results_where_they_exist(client, researcher, demo_results):
    results = copy.deepcopy(demo_results)
    model = _model(results, "pih_overall")
    kr = next(m for m in model["inference"]["methods"] if m["key"] == "kenward-roger")
    kr.update(ok=True, note=None, terms=[{**t, "coef": 0.5, "ci_low": 0.1, "ci_high": 0.9,
                                         "p": 0.02, "df": 2.5} for t in model["terms"]])
    _store(results)
    html = _page(client, researcher)
    table2 = html.split('data-testid="table2"')[1].split("</table>")[0]
    assert "0.50 <span class=\"ci\">(0.10 to 0.90)</span>" in table2
    inference = html.split('data-testid="inference-pih_overall"')[1].split("</details>")[0]
    assert ">2.5<" in inference  # the KR df of each term


def test_partnership_side_by_side_prints_each_stored_estimate(client, researcher,
                                                               demo_results):
    _store(demo_results)
    html = _page(client, researcher)
    table = html.split('data-testid="partnership-side-by-side"')[1].split("</table>")[0]
    row = next(r for r in demo_results["partnership"] if r["outcome"] == "pih_overall")
    estimates = {e["key"]: e for e in row["estimates"]}
    for key in ("z", "mi", "ipw"):
        assert f"{estimates[key]['coef']:.2f}" in table, key
    assert estimates["kenward-roger"]["coef"] is None
    assert "not available" in table
    notes = html.split('data-testid="partnership-notes"')[1].split("</div>")[0]
    assert "clinic variance is estimated at 0" in notes


def test_schema_2_run_still_renders_and_asks_for_a_refit(client, researcher, demo_results):
    old = copy.deepcopy(demo_results)
    old["schema"] = 2
    old.pop("partnership")
    for key in ("mi", "ipw", "tipping_point"):
        old["attrition"].pop(key)
    for model in old["table2"]["models"]:
        for key in ("aic", "bic", "inference", "variance_tests", "profile_ci", "diagnostics"):
            model.pop(key, None)
    _store(old)
    html = _page(client, researcher)
    assert "Refit to add them" in html
    for testid in ("inference-missing", "diagnostics-missing", "attrition-missing"):
        assert f'data-testid="{testid}"' in html
    assert "Shown: z (ML" in html  # no t results stored: the headline falls back to z
    assert 'data-testid="table2"' in html and 'data-testid="attrition-table"' in html


def test_missing_imputation_shows_its_note_and_the_rest(client, researcher, demo_results):
    results = copy.deepcopy(demo_results)
    note = "Multiple imputation failed, so it is not shown: no observed value."
    results["attrition"]["mi"] = {"ok": False, "m": 20, "notes": [note], "models": [],
                                  "counts": {}}
    results["attrition"]["tipping_point"] = None
    _store(results)
    html = _page(client, researcher)
    assert note in html and 'data-testid="tipping-missing"' in html
    assert 'data-testid="ipw-summary"' in html


@pytest.mark.parametrize("user_fixture", ["nurse_a", "nurse_b"])
def test_nurses_do_not_see_the_dashboard(client, request, user_fixture, demo_results, db):
    _store(demo_results)
    client.force_login(request.getfixturevalue(user_fixture))
    assert client.get(reverse("analysis:dashboard")).status_code == 403


def test_demo_run_json_stays_small_and_diagnostics_are_bounded(demo_results):
    from analysis.multilevel.effects import Effects
    from analysis.stats.diagnostics import diagnostics_summary

    assert len(json.dumps(demo_results)) < 400_000
    rng = np.random.default_rng(0)
    n, patients = 110_000, 100_000
    effects = Effects(rng.normal(50, 10, n), rng.normal(0, 5, n), rng.normal(50, 10, n),
                      {"clinic": pd.Series(rng.normal(size=30)),
                       "patient": pd.Series(rng.normal(size=patients))})

    class Fit:
        variances = {"clinic": 1.0, "patient": 1.0, "residual": 25.0}
        dropped_levels: list = []

    stored = diagnostics_summary(effects, Fit())
    assert len(stored["residuals"]["points"]) == 400
    assert len(json.dumps(stored)) < 20_000  # per model, whatever the cohort's size
