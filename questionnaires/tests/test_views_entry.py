"""The entry page: complete, draft, corrections, window check, concurrency, double submit,
server errors, and a query count that does not grow with the cohort."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from questionnaires.instruments import ITEM_CODES, PPIC
from questionnaires.models import Administration
from tests.factories import full_answers

from .entry_helpers import entry_data, entry_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def nurse_client(client, nurse_a):
    client.force_login(nurse_a)
    return client


def _post(client, patient, answers, timepoint="baseline", **kwargs):
    kwargs.setdefault("administered_on", patient.consented_on)
    return client.post(entry_url(patient, timepoint), entry_data(answers, **kwargs))


def test_complete_saves_and_shows_scores(nurse_client, make_patient):
    patient = make_patient()
    response = _post(nurse_client, patient, full_answers(bpi=5, ppic=4, pih=6))
    assert response.status_code == 302
    page = nurse_client.get(response.url).content.decode()
    # 11 PPiC items at 4 sum to 44; PIH items at 6 are 100 x 6 / 8 = 75.
    assert 'data-score="ppic_partnership">44.0<' in page
    assert 'data-score="pih_overall">75.0<' in page
    stored = Administration.objects.get(patient=patient)
    assert stored.is_complete and stored.entered_by.username == "nurse_a"


def test_missing_score_says_why(nurse_client, make_patient):
    patient = make_patient()
    answers = full_answers() | {code: None for code in PPIC.item_codes[:6]}
    response = _post(nurse_client, patient, answers)
    page = nurse_client.get(response.url).content.decode()
    assert "PPiC partnership: 6 of 11 items missing" in page
    assert Administration.objects.get(patient=patient).ppic_partnership is None


def test_complete_with_an_untouched_item_is_refused_and_names_it(nurse_client, make_patient):
    patient = make_patient()
    answers = full_answers()
    del answers["pih_7"]
    response = _post(nurse_client, patient, answers)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="#id_pih_7"' in page  # the error summary links to the item
    assert 'id="id_pih_7_error"' in page  # and the error sits beside it
    assert not Administration.objects.exists()


def test_draft_keeps_a_partial_entry(nurse_client, make_patient):
    patient = make_patient()
    response = _post(nurse_client, patient, {"bpi_worst": 7, "ppic_1": None}, action="draft")
    assert response.status_code == 302
    stored = Administration.objects.get(patient=patient)
    assert (stored.status, stored.bpi_worst, stored.ppic_1, stored.pih_1) == (
        "draft", 7, None, None)


def test_out_of_range_value_is_refused(nurse_client, make_patient):
    patient = make_patient()
    response = _post(nurse_client, patient, full_answers() | {"ppic_1": 0})
    assert response.status_code == 200
    assert "id_ppic_1_error" in response.content.decode()
    assert not Administration.objects.exists()


def test_new_entry_defaults_to_today(nurse_client, make_patient):
    patient = make_patient()
    page = nurse_client.get(entry_url(patient)).content.decode()
    assert f'value="{timezone.localdate():%d/%m/%Y}"' in page  # typed day/month/year


def test_correction_of_a_complete_administration_needs_a_reason(nurse_client, make_patient,
                                                                make_administration):
    patient = make_patient()
    admin = make_administration(patient)
    changed = full_answers() | {"bpi_worst": 9}
    response = _post(nurse_client, patient, changed, base_version=admin.version)
    assert response.status_code == 200
    assert 'id="id_reason_error"' in response.content.decode()
    admin.refresh_from_db()
    assert admin.bpi_worst == 5

    response = _post(nurse_client, patient, changed, base_version=admin.version,
                     reason="keying error")
    assert response.status_code == 302
    admin.refresh_from_db()
    assert admin.bpi_worst == 9
    assert admin.history.first().history_change_reason == "keying error"


def test_complete_administration_cannot_go_back_to_draft(nurse_client, make_patient,
                                                         make_administration):
    patient = make_patient()
    admin = make_administration(patient)
    response = _post(nurse_client, patient, full_answers(), action="draft",
                     base_version=admin.version, reason="oops")
    assert response.status_code == 200
    admin.refresh_from_db()
    assert admin.is_complete


def test_followup_outside_window_needs_confirmation(nurse_client, make_patient,
                                                   make_administration, settings):
    settings.FOLLOWUP_WINDOW_START_DAYS, settings.FOLLOWUP_WINDOW_END_DAYS = 76, 120
    patient = make_patient(consented_on=timezone.localdate() - dt.timedelta(days=200))
    baseline = make_administration(patient)
    late = baseline.administered_on + dt.timedelta(days=121)
    response = _post(nurse_client, patient, full_answers(), "followup", administered_on=late)
    assert response.status_code == 200
    assert "outside the follow-up window" in response.content.decode()
    assert 'name="confirm_outside_window"' in response.content.decode()
    start = baseline.administered_on + dt.timedelta(days=76)
    assert f"Follow-up window: {start.day} {start:%b %Y}" in response.content.decode()
    assert not Administration.objects.filter(timepoint="followup").exists()

    response = _post(nurse_client, patient, full_answers(), "followup", administered_on=late,
                     confirm_outside_window="on")
    assert response.status_code == 302
    assert Administration.objects.get(timepoint="followup").administered_on == late


def test_followup_on_the_last_day_of_the_window_needs_no_confirmation(
        nurse_client, make_patient, make_administration, settings):
    settings.FOLLOWUP_WINDOW_START_DAYS, settings.FOLLOWUP_WINDOW_END_DAYS = 76, 120
    patient = make_patient(consented_on=timezone.localdate() - dt.timedelta(days=200))
    baseline = make_administration(patient)
    on_time = baseline.administered_on + dt.timedelta(days=120)
    response = _post(nurse_client, patient, full_answers(), "followup", administered_on=on_time)
    assert response.status_code == 302


def test_second_of_two_edits_from_one_version_is_refused_with_the_other_change(
        client, nurse_a, data_manager, make_patient, make_administration):
    patient = make_patient()
    admin = make_administration(patient, complete=False)
    client.force_login(nurse_a)
    first = _post(client, patient, full_answers() | {"bpi_worst": 9}, action="draft",
                  base_version=admin.version)
    assert first.status_code == 302
    client.force_login(data_manager)
    second = _post(client, patient, full_answers() | {"bpi_least": 1}, action="draft",
                   base_version=admin.version)
    assert second.status_code == 200
    conflict = second.context["conflict"]
    assert conflict.who == "nurse_a"
    assert ("Worst pain, last 24 h", "5", "9") in conflict.changes
    admin.refresh_from_db()
    assert (admin.bpi_worst, admin.bpi_least) == (9, 5)
    # The refused entry stays in the form, now based on the stored version.
    form = second.context["form"]
    assert form["bpi_least"].value() == "1"
    assert form["base_version"].value() == admin.version


def test_identical_double_submission_creates_one_record(nurse_client, make_patient):
    patient = make_patient()
    data = entry_data(full_answers(), administered_on=patient.consented_on)
    assert nurse_client.post(entry_url(patient), data).status_code == 302
    assert nurse_client.post(entry_url(patient), data).status_code == 302
    assert Administration.objects.filter(patient=patient).count() == 1
    assert Administration.history.filter(patient_id=patient.pk).count() == 1


def test_server_error_during_save_leaves_nothing_written(client, nurse_a, make_patient,
                                                         monkeypatch):
    import questionnaires.services as services

    patient = make_patient()

    def broken(administration):
        assert administration.bpi_worst == 5  # the answers were already set
        raise RuntimeError("scoring crashed")

    monkeypatch.setattr(services, "apply_scores", broken)
    client.raise_request_exception = False
    client.force_login(nurse_a)
    response = _post(client, patient, full_answers())
    assert response.status_code == 500
    assert not Administration.objects.exists()
    assert not Administration.history.exists()


def _cohort(make_patient, make_administration, count: int):
    from clinics.models import Clinic
    from patients.models import Patient

    clinic = Clinic.objects.get(code="A")
    start = Patient.objects.count()
    Patient.objects.bulk_create([
        Patient(clinic=clinic, study_id=f"A-{start + i + 100:04d}",
                consented_on=timezone.localdate() - dt.timedelta(days=100),
                consent_form_version="v1", consent_taken_by="Nurse")
        for i in range(count)])
    return make_patient()


@pytest.mark.parametrize(("method", "bound"), [("get", 15), ("post", 30)])
def test_entry_page_query_count_does_not_grow_with_the_cohort(nurse_client, make_patient,
                                                              make_administration, method,
                                                              bound):
    counts = []
    for size in (5, 500):
        patient = _cohort(make_patient, make_administration, size)
        with CaptureQueriesContext(connection) as queries:
            if method == "get":
                response = nurse_client.get(entry_url(patient))
            else:
                response = _post(nurse_client, patient, full_answers())
        assert response.status_code in (200, 302)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[0] <= bound


def test_every_item_is_a_fieldset_with_a_legend_and_not_answered(nurse_client, make_patient):
    page = nurse_client.get(entry_url(make_patient())).content.decode()
    assert page.count('<fieldset class="item') == len(ITEM_CODES)
    assert page.count("Not answered</label>") == len(ITEM_CODES)


def test_date_is_read_day_first_whatever_the_browser(nurse_client, make_patient):
    # 03/02 is 3 February (a US-locale date input would send 2 March): a date where day and
    # month differ and both are <= 12 is the one that would go wrong.
    patient = make_patient(consented_on=dt.date(2026, 1, 5))
    data = entry_data(full_answers(), administered_on=patient.consented_on)
    data["administered_on"] = "03/02/2026"
    assert nurse_client.post(entry_url(patient), data).status_code == 302
    assert Administration.objects.get(patient=patient).administered_on == dt.date(2026, 2, 3)


@pytest.mark.parametrize(("typed", "message"), [
    ("2/3/26", "Type the date as day/month/year, e.g. 27/03/2026."),
    ("03-2026", "Type the date as day/month/year, e.g. 27/03/2026."),
    ("31/02/2026", "31/02/2026 is not a date: type the date as day/month/year"),
])
def test_a_date_not_typed_day_month_year_is_refused_naming_the_field(
        nurse_client, make_patient, typed, message):
    patient = make_patient()
    data = entry_data(full_answers(), administered_on=patient.consented_on)
    data["administered_on"] = typed
    response = nurse_client.post(entry_url(patient), data)
    assert response.status_code == 200
    page = response.content.decode()
    # In the error summary, linked to the field and named by its label; and beside the field.
    assert f'<a href="#id_administered_on">Date completed: {message}' in page
    assert 'id="id_administered_on_error"' in page
    assert f'value="{typed}"' in page  # what was typed is kept to be corrected
    assert not Administration.objects.exists()
