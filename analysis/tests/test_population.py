"""The paper's analysed population, exclusions with reasons, the legacy option value, and
models that cannot be fitted (the others still show, on the dashboard and in refit)."""
import io

import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from analysis.models import ModelRun
from analysis.runs import services
from analysis.stats import regression
from analysis.stats.cohort import load_cohort, patients_wide
from analysis.tests.factories import build_cohort
from questionnaires.models import Administration


@pytest.fixture
def cohort(db):
    build_cohort(seed=5, sizes={"A": 30, "B": 40, "C": 25})
    # two completers lose their follow-up partnership score, one its baseline PIH knowledge
    followups = Administration.objects.filter(timepoint="followup").order_by("patient_id")
    lost_partnership = list(followups.values_list("pk", flat=True)[:2])
    Administration.objects.filter(pk__in=lost_partnership).update(ppic_partnership=None)
    baseline = (Administration.objects.filter(timepoint="baseline",
                                              patient__administrations__timepoint="followup")
                .exclude(patient__administrations__pk__in=lost_partnership)
                .order_by("patient_id").first())
    Administration.objects.filter(pk=baseline.pk).update(pih_knowledge=None)
    frame = load_cohort()
    return frame, patients_wide(frame)


def _model(table: dict, outcome: str, variant: str = "paper") -> dict:
    return next(m for m in table["models"]
                if m["outcome"] == outcome and m["variant"] == variant)


def test_completers_keep_every_row_that_has_the_models_variables(cohort):
    frame, patients = cohort
    completers = int((patients["has_baseline"] & patients["has_followup"]).sum())
    table = regression.table2(frame, patients, population="completers")
    overall = _model(table, "pih_overall")
    # the two patients without a follow-up partnership stay, with their baseline row
    assert (overall["n_patients"], overall["n_obs"]) == (completers, 2 * completers - 2)
    knowledge = _model(table, "pih_knowledge")
    assert (knowledge["n_patients"], knowledge["n_obs"]) == (completers, 2 * completers - 3)
    texts = [item["text"] for item in knowledge["exclusions"]]
    assert texts == [
        "2 follow-up rows without a PPiC partnership score: 6 or more of its 11 items "
        "unanswered",
        "1 baseline row without a PIH knowledge score: 1 or more of its 2 items unanswered"]
    assert table["not_in_population"]["patients"] == len(patients) - completers


def test_both_rows_sensitivity_drops_the_patient_and_says_why(cohort):
    frame, patients = cohort
    completers = int((patients["has_baseline"] & patients["has_followup"]).sum())
    table = regression.table2(frame, patients, population="completers_both_rows")
    knowledge = _model(table, "pih_knowledge")
    assert (knowledge["n_patients"], knowledge["n_obs"]) == (completers - 3,
                                                             2 * (completers - 3))
    assert knowledge["exclusions"][-1]["text"] == (
        "3 rows (3 patients) whose other row is excluded (both rows required)")


def test_all_available_adds_the_baseline_rows_of_patients_not_followed_up(cohort):
    frame, patients = cohort
    table = regression.table2(frame, patients, population="all_available")
    assert _model(table, "pih_overall")["n_patients"] == len(patients)


def test_table1_and_the_change_describe_exactly_the_patients_analysed(cohort):
    frame, patients = cohort
    last_completer = patients.loc[patients["has_followup"], "study_id"].iloc[-1]
    Administration.objects.filter(patient__study_id=last_completer).update(
        bpi_severity=None)  # no baseline pain severity: out of every model
    results, _ = services.compute_results(options={})
    analysed = max(m["n_patients"] for m in results["table2"]["models"])
    assert results["table1"]["columns"][0]["n"] == analysed
    partnership = next(r for r in results["change"]["rows"] if r["key"] == "ppic_partnership")
    assert partnership["n"] == analysed - 2  # the two without a follow-up partnership


def test_a_population_value_of_an_earlier_version_maps_to_the_same_rule():
    assert services.normalise_options({"population": "complete_cases"})["population"] == \
        "completers_both_rows"
    assert services.normalise_options({})["population"] == "completers"
    with pytest.raises(ValidationError):
        services.normalise_options({"population": "everyone"})


# --- models that cannot be fitted ---------------------------------------------------------


@pytest.fixture
def frame(cohort) -> pd.DataFrame:
    frame, patients = cohort
    return regression.model_frame(frame, patients)


def test_an_outcome_without_variance_is_not_fitted_with_a_plain_message(frame):
    result = regression.fit_model(frame.assign(pih_overall=50.0), "pih_overall", "paper",
                                  population="completers")
    assert not result["ok"]
    assert "same value (50)" in result["error"] and "no variation" in result["error"]


def test_collinear_terms_are_reported_by_the_fitter(frame):
    frame = frame.assign(age=frame["partnership"] * 2)
    result = regression.fit_model(frame, "pih_overall", "paper", population="completers")
    assert not result["ok"]
    assert "collinear" in result["error"].lower() or "partnership" in result["error"]


def test_too_few_patients_is_not_fitted(frame):
    few = frame.loc[frame["patient"].isin(frame["patient"].unique()[:8])]
    result = regression.fit_model(few, "pih_overall", "paper", population="all_available")
    assert not result["ok"] and result["error"].startswith("Too few patients")


def test_one_clinic_fits_without_the_clinic_level_and_is_badged(frame):
    one = frame.loc[frame["clinic"] == "B"]
    result = regression.fit_model(one, "pih_overall", "paper", population="completers")
    assert result["ok"]
    assert result["n_clinics"] == 1
    assert result["variances"]["clinic"] == 0
    from analysis.pages.dashboard import model_badges
    assert [b["label"] for b in model_badges(result)] == ["Clinic variance 0"]


@pytest.fixture
def broken_run(cohort, monkeypatch):
    """A run in which PIH knowledge has no variance: its three models cannot be fitted."""
    original = regression.model_frame

    def constant_knowledge(cohort, patients):
        return original(cohort, patients).assign(pih_knowledge=70.0)

    monkeypatch.setattr(regression, "model_frame", constant_knowledge)
    out = io.StringIO()
    call_command("refit", "--sync", "--force", stdout=out)
    return ModelRun.objects.latest("id"), out.getvalue()


def test_refit_prints_the_unfittable_models_and_the_rest(broken_run):
    run, output = broken_run
    assert "3 of 15 models need attention" in output
    assert "pih_knowledge / paper: not fitted: PIH knowledge has the same value" in output
    assert "PIH overall - As published" in output and "Partnership (PPiC)" in output
    fitted = [m for m in run.results["table2"]["models"] if m["ok"]]
    assert len(fitted) == 12


def test_dashboard_shows_the_unfittable_model_beside_the_fitted_ones(client, researcher,
                                                                     broken_run):
    client.force_login(researcher)
    html = client.get(reverse("analysis:dashboard")).content.decode()
    status = html[html.index('data-testid="model-status"'):]
    status = status[:status.index("</tr>")]
    cells = status.split("<td")[1:]
    assert len(cells) == 5
    assert "<strong>Not fitted</strong>" in cells[0]
    assert "PIH knowledge has the same value (70)" in cells[0]
    assert not any("Not fitted" in cell for cell in cells[1:])
    # the fitted models' coefficients still show
    table = html[html.index('data-testid="table2"'):html.index("<tfoot>")]
    assert table.count("Partnership (PPiC)") == 1 and "(ref. male)" in table
