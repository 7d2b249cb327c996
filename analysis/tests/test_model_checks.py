"""Issue 19 items 1, 2 and 4 as a model run stores them (analysis/stats/model_checks.py,
diagnostics.py): small-sample inference from one REML fit, its notes, the compact
diagnostics, and the partnership coefficient side by side (missing_data.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from analysis.multilevel import fit_nested
from analysis.multilevel.fit import fit_nested_ddfs
from analysis.stats import diagnostics, model_checks
from analysis.stats.missing_data import partnership_side_by_side

DATA = Path(__file__).resolve().parent / "data"
REFERENCE = json.loads((DATA / "ddf" / "reference.json").read_text())
LEVELS = ["clinic", "patient"]


def _reference(name: str) -> tuple[pd.DataFrame, str, dict]:
    model = next(m for m in REFERENCE["models"] if m["name"] == name)
    return pd.read_csv(DATA / model["data"]), model["formula"].split(" + (1")[0], model


def test_one_reml_fit_gives_lmertest_and_pbkrtest_df_for_both_methods():
    data, formula, ref = _reference("simulated/101")
    fit, by_method = fit_nested_ddfs(data, formula, LEVELS)
    assert fit.method == "REML" and fit.ddf is None
    for method, key in (("satterthwaite", "satterthwaite"), ("kenward-roger", "kenward_roger")):
        table = by_method[method].fixed
        assert by_method[method].ddf_note is None
        for term, row in table.iterrows():
            expected = ref[key]["(Intercept)" if term == "Intercept" else term]
            assert row["df"] == pytest.approx(expected["df"], rel=1e-4), (method, term)
            assert row["p"] == pytest.approx(expected["p"], rel=1e-4, abs=1e-12)
            assert row["se"] == pytest.approx(expected["se"], rel=1e-5)


def test_large_clinics_get_a_note_and_the_z_results():
    data, formula, _ = _reference("simulated/101")
    fit, by_method = fit_nested_ddfs(data, formula, LEVELS, max_block_rows=10)
    for result in by_method.values():
        assert result.fixed["df"].isna().all()
        assert "beyond what a model run computes" in result.ddf_note
        np.testing.assert_allclose(result.fixed["p"], fit.fixed["p"])


@pytest.fixture(scope="module")
def demo_rows():
    from analysis.stats import regression
    from analysis.stats.cohort import patients_wide
    from analysis.tests.demo_frame import demo_cohort_frame

    cohort = demo_cohort_frame()
    selection = regression.selection_for(cohort, patients_wide(cohort), population="completers")
    rows = selection.analysed("pih_overall")
    formula, _ = regression.formula_for("pih_overall", "paper", rows)
    return rows, formula


def test_clinic_variance_at_zero_leaves_t_methods_out_with_the_reason(demo_rows):
    rows, formula = demo_rows
    stored = model_checks.inference(rows, formula, LEVELS)
    assert stored["variances"]["clinic"] == 0.0
    methods = {m["key"]: m for m in stored["methods"]}
    assert [m["key"] for m in stored["methods"]] == ["z", "satterthwaite", "kenward-roger"]
    assert methods["z"]["ok"] and methods["z"]["terms"][0]["term"] == "Intercept"
    for key in ("satterthwaite", "kenward-roger"):
        assert methods[key]["ok"] is False and methods[key]["terms"] == []
        assert "clinic variance is estimated at 0" in methods[key]["note"]
        assert methods[key]["note"].endswith("z results shown")
    # the stored z results are the REML fit's
    reml = fit_nested(rows, formula, LEVELS, reml=True)
    partnership = next(t for t in methods["z"]["terms"] if t["term"] == "partnership")
    assert partnership["coef"] == pytest.approx(reml.fixed.loc["partnership", "coef"])


def test_variance_tests_use_the_chi_bar_square_and_aic_bic_are_stored(demo_rows):
    rows, formula = demo_rows
    fit = fit_nested(rows, formula, LEVELS)
    stored = model_checks.model_checks(rows, formula, LEVELS, fit, reml=False, profile="off")
    patient = next(t for t in stored["variance_tests"]["levels"] if t["level"] == "patient")
    # the model without the patient level, fitted separately (clinic only)
    without = fit_nested(rows, formula, ["clinic"])
    statistic = 2 * (fit.loglik - without.loglik)
    assert patient["statistic"] == pytest.approx(statistic, rel=1e-6)
    assert patient["p"] == pytest.approx(0.5 * chi2.sf(statistic, 1), rel=1e-6)
    n_params = len(fit.fixed) + 3
    assert stored["aic"] == pytest.approx(-2 * fit.loglik + 2 * n_params)
    assert stored["bic"] == pytest.approx(-2 * fit.loglik + n_params * np.log(fit.n_obs))
    assert all(row["estimate"] is None and "ANALYSIS_SLOW_CHECKS" in row["note"]
               for row in stored["profile_ci"])
    assert [q["key"] for q in stored["diagnostics"]["qq"]] == ["residual", "clinic", "patient"]


def test_scatter_keeps_at_most_400_points_with_the_largest_residuals():
    rng = np.random.default_rng(1)
    fitted, residuals = rng.normal(size=5000), rng.normal(size=5000)
    points, sampled = diagnostics.scatter_points(fitted, residuals)
    assert sampled and len(points) == 400
    largest = np.sort(np.abs(residuals))[-40:]
    kept = np.array([abs(p[1]) for p in points])
    for value in largest:
        assert np.isclose(kept, value, rtol=1e-3).any()
    assert diagnostics.scatter_points(fitted[:50], residuals[:50])[1] is False


def test_qq_points_are_statsmodels_probplot_quantiles_at_blom_positions():
    from statsmodels.graphics.gofplots import ProbPlot

    values = np.random.default_rng(2).gamma(2.0, size=150)
    points = diagnostics.qq_points(values)
    plot = ProbPlot(values, a=3 / 8)
    assert len(points) == 100  # 150 values: 100 quantiles
    small = diagnostics.qq_points(values[:60])
    small_plot = ProbPlot(values[:60], a=3 / 8)
    np.testing.assert_allclose([p[0] for p in small], small_plot.theoretical_quantiles,
                               rtol=1e-3)
    np.testing.assert_allclose([p[1] for p in small], small_plot.sample_quantiles, rtol=1e-3)
    # the quantiles run from the smallest to the largest value
    assert points[0][1] == pytest.approx(plot.sample_quantiles[0], rel=1e-3)
    assert points[-1][1] == pytest.approx(plot.sample_quantiles[-1], rel=1e-3)


def test_residual_bins_cover_every_residual():
    rng = np.random.default_rng(4)
    fitted, residuals = rng.uniform(0, 100, 1000), rng.normal(size=1000)
    bins = diagnostics.residual_bins(fitted, residuals)
    assert len(bins) == 10 and sum(b["n"] for b in bins) == 1000
    first = residuals[fitted <= np.quantile(fitted, 0.1)]
    assert bins[0]["mean"] == pytest.approx(first.mean(), rel=1e-3)


def _term(coef, **extra):
    return {"term": "partnership", "coef": coef, "ci_low": coef - 1, "ci_high": coef + 1,
            "p": 0.01, **extra}


def test_partnership_side_by_side_takes_each_approach_and_says_why_one_is_missing():
    results = {
        "table2": {"models": [{
            "outcome": "pih_overall", "variant": "paper", "ok": True, "error": None,
            "terms": [_term(0.8)],
            "inference": {"error": None, "methods": [
                {"key": "z", "ok": True, "terms": [_term(0.79)]},
                {"key": "satterthwaite", "ok": True, "terms": [_term(0.79, df=2.1)]},
                {"key": "kenward-roger", "ok": False, "note": "KR: singular", "terms": []}]}},
            {"outcome": "pih_overall", "variant": "timepoint", "terms": [_term(9.0)]}]},
        "attrition": {"mi": {"notes": [], "models": [{"outcome": "pih_overall",
                                                       "notes": [], "terms": [_term(0.7)]}]},
                      "ipw": {"notes": ["No patient lost to follow-up."], "models": []}},
    }
    rows = {r["outcome"]: r for r in partnership_side_by_side(results)}
    estimates = {e["key"]: e for e in rows["pih_overall"]["estimates"]}
    assert [e["key"] for e in rows["pih_overall"]["estimates"]] == [
        "z", "satterthwaite", "kenward-roger", "mi", "ipw"]
    assert estimates["z"]["coef"] == 0.8  # the published variant, not "timepoint"
    assert estimates["satterthwaite"]["df"] == 2.1
    assert estimates["kenward-roger"]["coef"] is None
    assert estimates["kenward-roger"]["note"] == "KR: singular"
    assert estimates["mi"]["coef"] == 0.7 and estimates["mi"]["note"] is None
    assert estimates["ipw"]["note"] == "No patient lost to follow-up."
    assert rows["pih_knowledge"]["estimates"][0]["coef"] is None  # no model for it
