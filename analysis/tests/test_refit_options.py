"""Refit options (issue 19 item 5): `manage.py refit --reml --population NAME` and the
dashboard's refit form (method ML/REML, population)."""
import io

import pytest
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.template.loader import render_to_string
from django.test import RequestFactory, override_settings
from django.urls import reverse

from analysis.models import ModelRun, RunStatus
from analysis.multilevel import fit_nested
from analysis.pages.forms import RefitForm
from analysis.stats.cohort import load_cohort, patients_wide
from analysis.stats.regression import LEVELS, selection_for
from analysis.tests.factories import build_cohort


@pytest.fixture
def cohort(clinic_a, clinic_b):
    return build_cohort(seed=11, sizes={"A": 14, "B": 16, "C": 12})


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_refit_command_reml_and_population_are_the_runs_options(cohort):
    out = io.StringIO()
    call_command("refit", "--sync", "--reml", "--population", "completers_both_rows",
                 stdout=out)
    run = ModelRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED
    assert run.options == {"population": "completers_both_rows", "reml": True}
    assert run.results["options"]["reml"] is True
    assert run.results["table2"]["population"] == "completers_both_rows"
    assert "REML estimation" in out.getvalue()


def test_refit_command_reml_fits_again_after_ml_on_the_same_data(cohort):
    """The options are part of the fingerprint: same data, REML fits again, and the option
    reaches the fitter (its estimates are REML's; the R test checks them against lme4)."""
    call_command("refit", "--sync", stdout=io.StringIO())
    call_command("refit", "--sync", "--reml", stdout=io.StringIO())
    ml, reml = ModelRun.objects.order_by("pk")
    assert (ml.options["reml"], reml.options["reml"]) == (False, True)
    assert ml.fingerprint != reml.fingerprint
    cohort_frame = load_cohort()
    rows = selection_for(cohort_frame, patients_wide(cohort_frame),
                         population="completers").analysed("pih_overall")
    model = next(m for m in reml.results["table2"]["models"]
                 if (m["variant"], m["outcome"]) == ("paper", "pih_overall"))
    by_reml = fit_nested(rows, model["formula"], LEVELS, reml=True).variances
    by_ml = fit_nested(rows, model["formula"], LEVELS, reml=False).variances
    assert model["variances"]["residual"] == pytest.approx(by_reml["residual"], rel=1e-9)
    assert model["variances"]["residual"] != pytest.approx(by_ml["residual"], rel=1e-6)


def test_refit_command_refuses_an_unknown_population(cohort):
    with pytest.raises(CommandError, match="--population: invalid choice: 'everyone'"):
        call_command("refit", "--sync", "--population", "everyone")
    assert not ModelRun.objects.exists()


@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
def test_refit_form_runs_the_chosen_method_and_population(client, researcher, cohort):
    client.force_login(researcher)
    response = client.post(reverse("analysis:refit"),
                           {"method": "reml", "population": "all_available"})
    run = ModelRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED and run.requested_by == researcher
    assert run.options == {"population": "all_available", "reml": True}
    [message] = _messages(response)
    assert f"Refit done (run {run.pk})" in message and "Options: REML; All patients" in message
    html = client.get(reverse("analysis:dashboard")).content.decode()
    assert "REML estimation" in html


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_refit_form_with_a_worker_queues_the_options(client, researcher, cohort):
    client.force_login(researcher)
    client.post(reverse("analysis:refit"), {"method": "ml", "population": "completers"})
    run = ModelRun.objects.get()
    assert run.status == RunStatus.QUEUED
    assert run.options == {"population": "completers", "reml": False}


def test_refit_form_without_fields_is_the_published_analysis(client, researcher, cohort):
    client.force_login(researcher)
    client.post(reverse("analysis:refit"))
    assert ModelRun.objects.get().options == {"population": "completers", "reml": False}


@pytest.mark.parametrize("data, field", [({"method": "bayes"}, "Estimation"),
                                         ({"population": "everyone"}, "Population")])
def test_refit_form_bad_choice_names_the_field_and_queues_nothing(client, researcher, cohort,
                                                                  data, field):
    client.force_login(researcher)
    response = client.post(reverse("analysis:refit"), data)
    assert response.status_code == 302
    [message] = _messages(response)
    assert message.startswith("Refit not started.") and f"{field}:" in message
    assert not ModelRun.objects.exists()


def test_nurses_cannot_refit_with_options(client, nurse_a, nurse_b, cohort):
    for nurse in (nurse_a, nurse_b):
        client.force_login(nurse)
        response = client.post(reverse("analysis:refit"), {"method": "reml"})
        assert response.status_code == 403
    assert not ModelRun.objects.exists()


def test_refit_form_partial_shows_the_options_of_the_run(db, researcher):
    run = ModelRun(options={"population": "completers_both_rows", "reml": True})
    request = RequestFactory().get("/")
    request.user = researcher
    html = render_to_string("analysis/_refit_form.html",
                            {"refit_form": RefitForm.for_run(run)}, request=request)
    assert '<option value="reml" selected>' in html
    assert '<option value="completers_both_rows" selected>' in html
    assert '<option value="ml">' in html
    default = render_to_string("analysis/_refit_form.html",
                               {"refit_form": RefitForm.for_run(None)}, request=request)
    assert '<option value="ml" selected>' in default
    assert '<option value="completers" selected>' in default
