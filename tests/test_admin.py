"""The admin is for data managers; clinical data and scores cannot be changed there."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from analysis.models import ExportLog
from clinics.models import Clinic, Membership, Role
from questionnaires.models import Administration
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def administration(make_patient, make_administration):
    return make_administration(make_patient(study_id="A-001"))


def _client(client, user):
    client.force_login(user)
    return client


def test_data_manager_sees_the_clinical_models_in_the_admin(client, manager):
    response = _client(client, manager).get(reverse("admin:index"))
    assert response.status_code == 200
    for name in ("Clinics", "Memberships", "Patients", "Withdrawals", "Administrations",
                 "Patient access logs", "Export logs", "Study targets", "Users"):
        assert name in response.text, name


@pytest.mark.parametrize("who", ["nurse_a", "nurse_b", "researcher", "statistician"])
def test_other_roles_are_refused_by_the_admin(client, request, who, administration):
    user = request.getfixturevalue(who)
    client = _client(client, user)
    for url in (reverse("admin:index"),
                reverse("admin:questionnaires_administration_changelist"),
                reverse("admin:patients_patient_changelist")):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))


def test_staff_without_the_data_manager_role_sees_nothing(client, researcher, administration):
    researcher.is_staff = True
    researcher.save()
    client = _client(client, researcher)
    assert "Administrations" not in client.get(reverse("admin:index")).text
    url = reverse("admin:questionnaires_administration_change", args=[administration.pk])
    assert client.get(url).status_code == 403


def test_administration_is_shown_read_only_without_score_inputs(client, manager,
                                                                administration):
    url = reverse("admin:questionnaires_administration_change", args=[administration.pk])
    response = _client(client, manager).get(url)
    assert response.status_code == 200
    assert 'name="pih_overall"' not in response.text
    assert 'name="bpi_worst"' not in response.text
    assert "75.0" in response.text  # the stored PIH overall score, displayed


def test_scores_and_answers_cannot_be_changed_through_the_admin(client, manager,
                                                                administration):
    url = reverse("admin:questionnaires_administration_change", args=[administration.pk])
    response = _client(client, manager).post(url, {"pih_overall": "99", "bpi_worst": "0",
                                                   "timepoint": "baseline"})
    assert response.status_code == 403
    administration.refresh_from_db()
    assert (administration.pih_overall, administration.bpi_worst) == (75.0, 5)
    assert client.get(reverse("admin:questionnaires_administration_add")).status_code == 403
    delete = reverse("admin:questionnaires_administration_delete", args=[administration.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Administration.objects.count() == 1


def test_patients_are_read_only_in_the_admin(client, manager, administration):
    patient = administration.patient
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    response = _client(client, manager).post(url, {"age": "99"})
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.age == 48


def test_data_manager_sees_the_history_of_an_administration(client, manager, administration):
    url = reverse("admin:questionnaires_administration_history", args=[administration.pk])
    response = _client(client, manager).get(url)
    assert response.status_code == 200
    assert "nurse_a" in response.text


def test_nurse_cannot_open_the_history_in_the_admin(client, nurse_a, administration):
    url = reverse("admin:questionnaires_administration_history", args=[administration.pk])
    assert _client(client, nurse_a).get(url).status_code == 302


def test_data_manager_changes_a_clinic_and_the_change_is_recorded(client, manager, clinic_a):
    url = reverse("admin:clinics_clinic_change", args=[clinic_a.pk])
    response = _client(client, manager).post(url, {
        "name": "Clinic A (Leeds)", "active": "on",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.text[:2000]
    clinic_a.refresh_from_db()
    assert clinic_a.name == "Clinic A (Leeds)"
    assert clinic_a.code == "A"
    record = clinic_a.history.first()
    assert (record.history_type, record.history_user) == ("~", manager)


def test_data_manager_gives_a_user_a_role(client, manager, clinic_b):
    user = get_user_model().objects.create_user("nurse_new", password=PASSWORD)
    response = _client(client, manager).post(reverse("admin:clinics_membership_add"), {
        "user": user.pk, "clinic": clinic_b.pk, "role": Role.NURSE})
    assert response.status_code == 302
    assert Membership.objects.get(user=user).clinic == clinic_b


def test_data_manager_cannot_make_anyone_superuser(client, manager):
    user = get_user_model().objects.create_user("someone", password=PASSWORD)
    url = reverse("admin:auth_user_change", args=[user.pk])
    _client(client, manager).post(url, {
        "username": "someone", "is_active": "on", "is_superuser": "on",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"})
    user.refresh_from_db()
    assert not user.is_superuser


def test_data_manager_cannot_change_a_superuser(client, manager):
    boss = get_user_model().objects.create_superuser("boss", password=PASSWORD)
    url = reverse("admin:auth_user_change", args=[boss.pk])
    response = _client(client, manager).post(url, {"username": "boss", "is_active": ""})
    assert response.status_code == 403
    boss.refresh_from_db()
    assert boss.is_active


def test_export_log_is_read_only(client, manager):
    entry = ExportLog.objects.create(user=manager, file="cohort.csv", row_count=3)
    client = _client(client, manager)
    assert client.get(reverse("admin:analysis_exportlog_add")).status_code == 403
    url = reverse("admin:analysis_exportlog_change", args=[entry.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"file": "x.csv"}).status_code == 403
    entry.refresh_from_db()
    assert entry.file == "cohort.csv"


def test_clinic_code_cannot_change_once_created(client, manager, clinic_a):
    url = reverse("admin:clinics_clinic_change", args=[clinic_a.pk])
    _client(client, manager).post(url, {
        "code": "Z", "name": "Clinic A", "active": "on",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"})
    assert Clinic.objects.get(pk=clinic_a.pk).code == "A"
