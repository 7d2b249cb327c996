"""The researcher dashboard: access, tables from the stored run, fixed query count,
freshness and Refit now, the study target, the interview page."""
import datetime as dt
import math
import re

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from statsmodels.stats.power import TTestPower

from analysis.models import InterviewContact, ModelRun, RunStatus, StudyTarget
from analysis.runs import services
from analysis.tests.factories import build_cohort
from core.signals import data_changed
from patients.models import Patient
from questionnaires.models import Administration


def _fit() -> ModelRun:
    run, _ = services.model_run_request(trigger="test", force=True)
    return services.model_run_execute(run_id=run.pk)


@pytest.fixture
def cohort(clinic_a, clinic_b):
    return build_cohort(seed=11, sizes={"A": 14, "B": 16, "C": 12})


@pytest.fixture
def fitted(cohort):
    run = _fit()
    assert run.status == RunStatus.SUCCEEDED
    return run


@pytest.mark.parametrize("user_fixture, status", [
    ("nurse_a", 403), ("nurse_b", 403), ("researcher", 200), ("statistician", 200),
    ("data_manager", 200)])
def test_dashboard_access_by_role(client, request, user_fixture, status):
    client.force_login(request.getfixturevalue(user_fixture))
    assert client.get(reverse("analysis:dashboard")).status_code == status


def test_anonymous_user_is_sent_to_login(client, db):
    response = client.get(reverse("analysis:dashboard"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_dashboard_without_a_run_says_so(client, researcher):
    client.force_login(researcher)
    response = client.get(reverse("analysis:dashboard"))
    assert b"No successful model run yet" in response.content


def test_dashboard_shows_table2_from_the_stored_run(client, researcher, fitted):
    client.force_login(researcher)
    html = client.get(reverse("analysis:dashboard")).content.decode()
    model = next(m for m in fitted.results["table2"]["models"]
                 if m["variant"] == "paper" and m["outcome"] == "pih_overall")
    term = next(t for t in model["terms"] if t["term"] == "partnership")
    expected = (f"{term['coef']:.2f} <span class=\"ci\">({term['ci_low']:.2f} to "
                f"{term['ci_high']:.2f})</span>")
    assert expected in html
    assert 'data-testid="table1"' in html and 'data-testid="table2"' in html
    # recruitment, 5 forest, 6 change plots, and one model's 4 diagnostics plots (issue 19)
    assert html.count('role="img"') == 1 + 5 + 6 + 4
    assert f"Showing run {fitted.pk}" in html
    assert "ML estimation" in html


def test_dashboard_shows_table1_cells_from_the_stored_run(client, researcher, fitted):
    client.force_login(researcher)
    html = client.get(reverse("analysis:dashboard")).content.decode()
    age = next(v for v in fitted.results["table1"]["variables"] if v["key"] == "age")
    cell = age["rows"][0]["cells"]["overall"]
    assert (f"{cell['median']:g} (IQR {cell['q1']:g}–{cell['q3']:g}; "
            f"range {cell['min']:g}–{cell['max']:g})") in html


def test_dashboard_variant_switch_shows_the_other_model(client, researcher, fitted):
    client.force_login(researcher)
    html = client.get(reverse("analysis:dashboard") + "?variant=timepoint").content.decode()
    assert '<strong aria-current="page">Adding timepoint</strong>' in html


def test_dashboard_query_count_does_not_grow_with_the_cohort(client, researcher, fitted):
    client.force_login(researcher)
    url = reverse("analysis:dashboard")
    client.get(url)                              # warm caches (content types, session)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    build_cohort(seed=12, sizes={"D": 60, "E": 40})     # more clinics and patients, no refit
    with CaptureQueriesContext(connection) as large:
        assert client.get(url).status_code == 200
    assert Patient.objects.count() == 142
    assert len(large) == len(small)


def test_recruitment_counts_by_clinic(client, researcher, cohort):
    client.force_login(researcher)
    html = client.get(reverse("analysis:dashboard")).content.decode()
    table = html[html.index('data-testid="recruitment-table"'):]
    table = table[:table.index("</table>")]
    row = re.search(r"Recruited</th>((?:<td[^>]*>\d+</td>)+)", table).group(1)
    cells = [int(n) for n in re.findall(r">(\d+)<", row)]
    assert cells == [42, 14, 16, 12]
    completed = Patient.objects.filter(administrations__timepoint="followup").count()
    row = re.search(r"Follow-up complete</th><td[^>]*>(\d+)</td>", table).group(1)
    assert int(row) == completed


def test_study_target_defaults_to_the_published_84(client, researcher, db):
    client.force_login(researcher)
    html = client.get(reverse("analysis:dashboard")).content.decode()
    assert "against a target of <strong>84</strong>" in html


def test_data_manager_changes_the_target_inputs(client, data_manager):
    client.force_login(data_manager)
    response = client.post(reverse("analysis:target"), {
        "standardised_difference": "0.5", "power": "0.8", "alpha": "0.05",
        "reason": "protocol amendment"})
    assert response.status_code == 302
    target = StudyTarget.objects.get()
    assert (target.standardised_difference, target.power) == (0.5, 0.8)
    assert target.history.first().history_change_reason == "protocol amendment"
    expected = math.ceil(TTestPower().solve_power(effect_size=0.5, power=0.8, alpha=0.05))
    html = client.get(reverse("analysis:dashboard")).content.decode()
    assert f"against a target of <strong>{expected}</strong>" in html


def test_invalid_target_input_names_the_field_and_saves_nothing(client, data_manager):
    client.force_login(data_manager)
    response = client.post(reverse("analysis:target"), {
        "standardised_difference": "0.4", "power": "1.5", "alpha": "0.05", "reason": "x"})
    assert response.status_code == 200
    assert "Enter a power of at least 0.5 and below 1." in response.content.decode()
    assert not StudyTarget.objects.exists()


@pytest.mark.parametrize("user_fixture", ["researcher", "statistician", "nurse_a"])
def test_only_data_managers_change_the_target(client, request, user_fixture):
    client.force_login(request.getfixturevalue(user_fixture))
    response = client.post(reverse("analysis:target"), {
        "standardised_difference": "0.5", "power": "0.8", "alpha": "0.05", "reason": "x"})
    assert response.status_code == 403
    assert not StudyTarget.objects.exists()


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_refit_now_with_a_worker_queues_a_run_and_the_dashboard_says_so(
        client, researcher, fitted):
    Patient.objects.filter(pk=Patient.objects.first().pk).update(age=99)   # data changed
    client.force_login(researcher)
    response = client.post(reverse("analysis:refit"), follow=True)
    run = ModelRun.objects.order_by("-pk").first()
    assert run.pk != fitted.pk and run.status == RunStatus.QUEUED
    assert run.requested_by == researcher and "Refit now" in run.trigger
    html = response.content.decode()
    assert f"Refit queued (run {run.pk})" in html
    assert f"A refit is <strong>queued</strong> (run {run.pk}" in html


@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
def test_refit_now_without_a_broker_fits_at_once_and_the_dashboard_shows_it(
        client, researcher, fitted):
    Patient.objects.filter(pk=Patient.objects.first().pk).update(age=99)   # data changed
    data_changed(reason="age corrected")
    client.force_login(researcher)
    before = client.get(reverse("analysis:dashboard")).content.decode()
    assert 'Press "Refit now" to update the tables with them.' in before
    response = client.post(reverse("analysis:refit"), follow=True)
    run = ModelRun.objects.order_by("-pk").first()
    assert run.pk != fitted.pk and run.status == RunStatus.SUCCEEDED
    html = response.content.decode()
    assert f"Refit done (run {run.pk})" in html
    assert "No data changes since this fit." in html


def test_refit_now_with_unchanged_data_queues_nothing(client, researcher, fitted):
    client.force_login(researcher)
    response = client.post(reverse("analysis:refit"), follow=True)
    assert ModelRun.objects.count() == 1
    assert "nothing to refit" in response.content.decode()


def test_nurse_cannot_refit(client, nurse_a, db):
    client.force_login(nurse_a)
    assert client.post(reverse("analysis:refit")).status_code == 403
    assert not ModelRun.objects.exists()


def test_failed_run_shows_its_error_to_data_managers_only(client, researcher, data_manager,
                                                          fitted):
    ModelRun.objects.create(status=RunStatus.FAILED, error="LinAlgError: singular matrix",
                            trigger="test")
    client.force_login(data_manager)
    assert "LinAlgError: singular matrix" in client.get(
        reverse("analysis:dashboard")).content.decode()
    client.force_login(researcher)
    html = client.get(reverse("analysis:dashboard")).content.decode()
    assert "failed" in html and "LinAlgError" not in html


def test_interview_page_records_an_interview_of_a_completer(client, researcher, cohort):
    completer = Patient.objects.filter(followup_status="completed").first()
    client.force_login(researcher)
    response = client.post(reverse("analysis:interviews"), {
        "study_id": completer.study_id, "status": "interviewed", "invited_on": "2026-01-05",
        "interviewed_on": "2026-01-20", "duration_minutes": "45", "place": "home"})
    assert response.status_code == 302
    contact = InterviewContact.objects.get()
    assert (contact.patient, contact.duration_minutes, contact.place) == (completer, 45, "home")
    html = client.get(reverse("analysis:interviews")).content.decode()
    table3 = html[html.index('data-testid="table3"'):]
    assert completer.study_id in table3[:table3.index("</table>")]


def test_interview_needs_date_duration_and_place(client, researcher, cohort):
    completer = Patient.objects.filter(followup_status="completed").first()
    client.force_login(researcher)
    response = client.post(reverse("analysis:interviews"), {
        "study_id": completer.study_id, "status": "interviewed"})
    assert response.status_code == 200
    assert "Give the interview&#x27;s date, duration and place." in response.content.decode()
    assert not InterviewContact.objects.exists()


def test_only_completers_can_be_invited(client, researcher, cohort):
    lost = Patient.objects.filter(followup_status="lost").first()
    client.force_login(researcher)
    response = client.post(reverse("analysis:interviews"), {
        "study_id": lost.study_id, "status": "invited"})
    assert "only completers are eligible" in response.content.decode()
    assert not InterviewContact.objects.exists()


def test_interview_proposal_covers_the_categories(client, researcher, cohort):
    client.force_login(researcher)
    response = client.get(reverse("analysis:interviews") + "?proposal_size=6")
    context = response.context
    overall = {row.changes["pih_overall"] for row in context["proposal"]}
    available = {c for c, n in next(s for s in context["score_summary"]
                                    if s["code"] == "pih_overall")["counts"] if n}
    assert overall == available
    assert len(context["proposal"]) == 6


@pytest.mark.parametrize("user_fixture, status", [("nurse_a", 403), ("nurse_b", 403)])
def test_nurses_cannot_see_or_record_interviews(client, request, cohort, user_fixture, status):
    client.force_login(request.getfixturevalue(user_fixture))
    assert client.get(reverse("analysis:interviews")).status_code == status
    completer = Patient.objects.filter(followup_status="completed").first()
    assert client.post(reverse("analysis:interviews"), {
        "study_id": completer.study_id, "status": "invited"}).status_code == status


def test_statistician_sees_interviews_but_cannot_record(client, statistician, cohort):
    client.force_login(statistician)
    completer = Patient.objects.filter(followup_status="completed").first()
    assert client.get(reverse("analysis:interviews")).status_code == 200
    assert client.post(reverse("analysis:interviews"), {
        "study_id": completer.study_id, "status": "invited"}).status_code == 403


# --- issue 8: an honest dashboard -----------------------------------------------------------


def test_followup_rate_is_among_patients_whose_window_has_closed(client, researcher, cohort,
                                                                   settings):
    # five patients without a follow-up had their baseline recently: not yet due
    recent = timezone.localdate() - dt.timedelta(days=settings.FOLLOWUP_WINDOW_END_DAYS - 5)
    waiting = list(Patient.objects.exclude(administrations__timepoint="followup")
                   .values_list("pk", flat=True)[:5])
    Administration.objects.filter(patient__in=waiting, timepoint="baseline").update(
        administered_on=recent)
    closed = timezone.localdate() - dt.timedelta(days=settings.FOLLOWUP_WINDOW_END_DAYS)
    due = Patient.objects.filter(administrations__timepoint="baseline",
                                 administrations__administered_on__lt=closed)
    followed = due.filter(pk__in=Administration.objects.filter(timepoint="followup")
                          .values("patient"))
    assert due.count() == Patient.objects.count() - 5
    client.force_login(researcher)
    html = client.get(reverse("analysis:dashboard")).content.decode()
    rate = round(100 * followed.count() / due.count(), 1)
    text = re.sub(r"\s+", " ", html[html.index('data-testid="followup-rate"'):])
    assert text.startswith(f'data-testid="followup-rate">Follow-up rate among the '
                           f'{due.count()} patients already due')
    assert f"<strong>{rate} %</strong> ({followed.count()} followed up)" in text
    needed = math.ceil(84 / (followed.count() / due.count()))
    assert f"about {needed} recruits give 84 completers" in text


def test_target_is_compared_with_the_patients_the_models_analyse(client, researcher, fitted):
    counts = [m["n_patients"] for m in fitted.results["table2"]["models"]
              if m["variant"] == "paper"]
    client.force_login(researcher)
    html = client.get(reverse("analysis:dashboard")).content.decode()
    analysed = (f"{min(counts)}" if min(counts) == max(counts)
                else f"{min(counts)} to {max(counts)}")
    assert f"The published models analyse <strong>{analysed} patients</strong>: " \
           f"{84 - min(counts)} more analysed patients needed" in html


def test_variance_components_and_iccs_show_under_each_model(client, researcher, fitted):
    client.force_login(researcher)
    html = client.get(reverse("analysis:dashboard")).content.decode()
    model = next(m for m in fitted.results["table2"]["models"]
                 if m["variant"] == "paper" and m["outcome"] == "pih_overall")
    variances = model["variances"]
    total = sum(variances.values())
    # Stata's estat icc, computed here from the variances: patient|clinic pools clinic
    pooled = (variances["clinic"] + variances["patient"]) / total
    footer = html[html.index("<tfoot>"):html.index("</tfoot>")]
    row = footer[footer.index("ICC patient|clinic"):]
    row = row[:row.index("</tr>")]
    assert f"{pooled:.3f}" in row
    row = footer[footer.index("Variance: residual"):]
    assert f"{variances['residual']:.2f}" in row[:row.index("</tr>")]
    assert "Multiple comparisons" in html


def test_a_model_with_a_zero_variance_is_badged_in_the_table(client, researcher, fitted):
    results = fitted.results
    model = next(m for m in results["table2"]["models"]
                 if m["variant"] == "paper" and m["outcome"] == "pih_symptoms")
    model["variances"]["clinic"] = 0.0
    model["converged"] = True
    ModelRun.objects.filter(pk=fitted.pk).update(results=results)
    client.force_login(researcher)
    html = client.get(reverse("analysis:dashboard")).content.decode()
    status = html[html.index('data-testid="model-status"'):]
    cells = status[:status.index("</tr>")].split("<td")[1:]
    # one compact mark in the cell; its meaning once, in a note beneath the table (issue 14)
    assert 'class="model-mark">Clinic variance 0<a href="#table2-note-clinic-variance-0"' \
        in cells[2]
    assert "may be too narrow" not in cells[2]
    note = html[html.index('id="table2-note-clinic-variance-0"'):]
    assert "may be too narrow" in note[:note.index("</p>")]


def test_a_run_stored_by_an_earlier_version_still_renders_marked_outdated(client, researcher,
                                                                          fitted):
    results = fitted.results
    results["schema"] = 1
    results["options"]["population"] = "complete_cases"
    for row in results["change"]["rows"]:
        row.pop("baseline_sd"), row.pop("followup_sd")
    ModelRun.objects.filter(pk=fitted.pk).update(results=results)
    client.force_login(researcher)
    response = client.get(reverse("analysis:dashboard"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="run-outdated"' in html
    assert "stored as &#x27;complete_cases&#x27; by an earlier version" in html


def test_change_plot_bars_use_the_sd_of_the_paired_patients(fitted):
    from analysis.pages import dashboard

    plots = {p.key: p for p in dashboard.change_plots(fitted.results)}
    row = next(r for r in fitted.results["change"]["rows"] if r["key"] == "pih_overall")
    text = " ".join(" ".join(cells) for cells in plots["change-pih_overall"].rows)
    assert f"{row['baseline_sd']:.1f}" in text and f"{row['followup_sd']:.1f}" in text
