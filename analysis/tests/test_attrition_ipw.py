"""Inverse probability of completion weights: the completion model against statsmodels'
Logit on an independently built design, the weighted fit against a numpy sandwich."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analysis.stats.attrition import completion_weights, ipw_models
from analysis.stats.cohort import patients_wide
from analysis.stats.regression import selection_for
from analysis.tests.demo_frame import demo_cohort_frame


@pytest.fixture(scope="module")
def cohort():
    return demo_cohort_frame()


@pytest.fixture(scope="module")
def patients(cohort):
    return patients_wide(cohort)


def _independent_design(patients: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Completers and lost with every variable, dummies by pandas (not by attrition.py)."""
    rows = patients.loc[patients["followup_status"].isin(["completed", "lost"])
                        & patients["has_baseline"]]
    needed = ["age", "gender", "ethnicity", "education", "pain_years_group",
              "pain_sites_group", "clinic", "baseline_bpi_severity",
              "baseline_ppic_partnership", "baseline_pih_overall"]
    rows = rows.dropna(subset=needed)
    dummies = pd.get_dummies(rows[["gender", "ethnicity", "education", "pain_years_group",
                                   "pain_sites_group", "clinic"]].astype(str),
                             drop_first=True, dtype=float)
    x = pd.concat([rows[["age", "baseline_bpi_severity", "baseline_ppic_partnership",
                         "baseline_pih_overall"]], dummies], axis=1)
    return rows, sm.add_constant(x).to_numpy(float)


def test_completion_model_equals_statsmodels_logit(patients):
    weights = completion_weights(patients)
    rows, x = _independent_design(patients)
    y = rows["has_followup"].to_numpy(float)
    logit = sm.Logit(y, x).fit(disp=0, tol=1e-12)
    assert weights.model.converged
    assert weights.model.loglik == pytest.approx(logit.llf, rel=1e-10)
    fitted = dict(zip(rows["study_id"], logit.predict(x), strict=True))
    assert weights.study_ids and set(weights.study_ids) == set(fitted)
    ours = dict(zip(weights.study_ids, weights.probability, strict=True))
    for study_id, p in fitted.items():
        assert ours[study_id] == pytest.approx(p, rel=1e-8)
    # stabilised weights: overall completion rate / P(completion | baseline), completers only
    share = y.mean()
    completers = rows.loc[rows["has_followup"], "study_id"]
    assert set(weights.weights) == set(completers)
    for study_id in completers:
        assert weights.weights[study_id] == pytest.approx(share / fitted[study_id], rel=1e-8)
    assert weights.summary["lost"] == int((y == 0).sum())


def test_weighted_fit_equals_a_numpy_cluster_sandwich(cohort, patients):
    result = ipw_models(cohort, patients, outcomes=["pih_overall"], variants=["paper"])
    weights = completion_weights(patients).weights
    rows = selection_for(cohort, patients, population="completers").analysed("pih_overall")
    study = selection_for(cohort, patients, population="completers").frame.loc[
        lambda f: f.index.isin(rows.index), "patient"]
    w = study.map(weights).to_numpy(float)
    keep = np.isfinite(w)
    rows, w, study = rows.loc[keep], w[keep], study.to_numpy()[keep]
    terms = ["partnership", "age", "female", "white_british", "education_below_a_level",
             "education_a_level_or_above", "baseline_severity", "pain_years_5to7",
             "pain_years_ge8", "pain_sites_2", "pain_sites_ge3"]
    clinics = pd.get_dummies(rows["clinic"].astype(str), drop_first=True, dtype=float)
    x = np.column_stack([np.ones(len(rows)), rows[terms].to_numpy(float), clinics])
    y = rows["pih_overall"].to_numpy(float)
    for weighted, model_w in ((True, w), (False, np.ones_like(w))):
        xtwx_inv = np.linalg.inv(x.T @ (x * model_w[:, None]))
        beta = xtwx_inv @ (x.T @ (model_w * y))
        score = x * (model_w * (y - x @ beta))[:, None]
        groups = pd.factorize(study)[0]
        meat = sum(np.outer(s, s) for s in
                   (score[groups == g].sum(axis=0) for g in range(groups.max() + 1)))
        n, k, g = len(y), x.shape[1], groups.max() + 1
        cov = g / (g - 1) * (n - 1) / (n - k) * xtwx_inv @ meat @ xtwx_inv  # CR1
        model = result.model("pih_overall", "paper", weighted=weighted)
        term = model.term("partnership")
        assert model.n_obs == n and model.n_patients == g
        assert term.coef == pytest.approx(beta[1], rel=1e-9)
        assert term.se == pytest.approx(np.sqrt(cov[1, 1]), rel=1e-9)
        assert term.df == g - 1


def test_no_one_lost_gives_a_note(cohort, patients):
    completers = patients.loc[patients["has_followup"]]
    result = ipw_models(cohort, completers)
    assert result.models == [] and not result.weights.ok
    assert any("No patient lost" in note for note in result.notes)
    assert result.to_frame().empty


def test_separation_gives_a_note_not_weights(patients):
    # lost only in clinic C, completers only in A and B: clinic predicts completion exactly
    separated = patients.loc[(patients["has_followup"] & (patients["clinic"] != "C"))
                             | ((patients["followup_status"] == "lost")
                                & (patients["clinic"] == "C"))]
    weights = completion_weights(separated)
    assert not weights.ok
    assert any("separat" in note or "singular" in note for note in weights.notes)
