"""The admin's "View" pages never write, and admin reads of patient records are logged.

Every model registered in the admin is tried (admin.site._registry), so a model added
later without test data here fails `test_every_registered_model_has_a_record`.
django-simple-history's past-version page ("history form") used to save any POST from a
user who may view: a forged POST there, on a view-only change page, an add page, a delete
page or a list's delete action changes nothing and answers 403 (or offers no action).
"""
from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.forms.models import model_to_dict
from django.test import RequestFactory
from django.urls import reverse

from core.admin import DataManagerOnly
from tests.site_walk import make_admin_records

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(manager, nurse_a, make_patient, make_administration):
    make_admin_records(manager, nurse_a, make_patient, make_administration)


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def _snapshot(model) -> dict:
    """Every row of the model and of its history table, as stored."""
    rows = {"rows": list(model.objects.order_by("pk").values())}
    history = getattr(model, "history", None)
    if history is not None:
        rows["history"] = list(history.model.objects.order_by("pk").values())
    return rows


def _forged(obj) -> dict:
    """POST data for every editable field of `obj`, as its own form would send them: a
    valid form, so that a page which saved POSTs would save (and leave a history row)."""
    data = {}
    for name, value in model_to_dict(obj).items():
        if isinstance(value, list):
            value = [getattr(item, "pk", item) for item in value]
        if isinstance(value, bool):
            value = "on" if value else ""
        data[name] = "" if value is None else value
    return data


def _url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def test_every_admin_class_uses_the_role_policy():
    assert [model._meta.label for model, model_admin in _registered()
            if not isinstance(model_admin, DataManagerOnly)] == []


def test_every_registered_model_has_a_record(records):
    assert [model._meta.label for model, _ in _registered()
            if not model.objects.exists()] == []


def test_forged_posts_to_view_only_pages_change_nothing(client, manager, records):
    client.force_login(manager)
    request = _request(manager)
    tried = []
    for model, model_admin in _registered():
        obj = model.objects.order_by("pk").first()
        before = _snapshot(model)
        data = _forged(obj)
        if not model_admin.has_change_permission(request, obj):
            tried.append((model._meta.label, "change",
                          client.post(_url(model, "change", obj.pk), data).status_code))
        if not model_admin.has_add_permission(request):
            tried.append((model._meta.label, "add",
                          client.post(_url(model, "add"), data).status_code))
        if not model_admin.has_delete_permission(request, obj):
            tried.append((model._meta.label, "delete",
                          client.post(_url(model, "delete", obj.pk), {"post": "yes"}
                                      ).status_code))
            client.post(_url(model, "changelist"), {"action": "delete_selected", "post": "yes",
                                                    "_selected_action": [obj.pk]})
        assert _snapshot(model) == before, model._meta.label
    assert tried and {status for *_, status in tried} == {403}, tried


def test_forged_posts_to_every_history_page_change_nothing(client, manager, records):
    """Past versions are read-only for everyone, even where the record may be changed."""
    client.force_login(manager)
    tried = []
    for model, _ in _registered():
        history = getattr(model, "history", None)
        if history is None:
            continue
        obj = model.objects.order_by("pk").first()
        version = history.filter(**{model._meta.pk.attname: obj.pk}).earliest("history_id")
        before = _snapshot(model)
        url = _url(model, "simple_history", obj.pk, version.history_id)
        assert client.get(url).status_code == 200, model._meta.label
        response = client.post(url, _forged(version.instance))
        tried.append(model._meta.label)
        assert _snapshot(model) == before, model._meta.label
        assert response.status_code == 403, model._meta.label
    assert {"patients.Patient", "patients.Withdrawal", "questionnaires.Administration",
            "clinics.Clinic", "analysis.StudyTarget"} <= set(tried)


def test_a_data_manager_still_changes_a_clinic_through_its_change_form(client, manager,
                                                                      clinic_a):
    client.force_login(manager)
    response = client.post(_url(clinic_a, "change", clinic_a.pk),
                           {"name": "Clinic A renamed", "active": "on",
                            "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.content[:2000]
    clinic_a.refresh_from_db()
    assert clinic_a.name == "Clinic A renamed"


@pytest.mark.parametrize("page", ["change", "history", "simple_history"])
def test_admin_reads_of_a_patient_record_are_in_its_access_log(client, manager, records,
                                                               page):
    from patients.models import Patient, PatientAccessLog
    from questionnaires.models import Administration

    client.force_login(manager)
    for model in (Patient, Administration):
        obj = model.objects.get(patient__study_id="A-001") if model is Administration else \
            Patient.objects.get(study_id="A-001")
        args = [obj.pk]
        if page == "simple_history":
            args.append(obj.history.earliest("history_id").history_id)
        url = _url(model, page, *args)
        assert client.get(url).status_code == 200
        entry = PatientAccessLog.objects.filter(user=manager).latest("viewed_at")
        assert (entry.patient.study_id, entry.path) == ("A-001", url)


def test_a_refused_admin_read_is_not_logged_as_a_view(client, researcher, records):
    from patients.models import Patient, PatientAccessLog

    researcher.is_staff = True
    researcher.save()
    client.force_login(researcher)
    patient = Patient.objects.get(study_id="A-001")
    assert client.get(_url(patient, "change", patient.pk)).status_code == 403
    assert not PatientAccessLog.objects.filter(user=researcher).exists()


def test_groups_are_not_in_the_admin():
    assert get_user_model()._meta.get_field("groups").related_model not in admin.site._registry


def _list_models():
    """Every admin list whose rows show a patient's study ID."""
    from analysis.models import InterviewContact
    from patients.models import Patient, PatientAccessLog, Withdrawal
    from questionnaires.models import Administration

    return [Patient, Withdrawal, Administration, InterviewContact, PatientAccessLog]


def _shown_study_ids(model) -> list[str]:
    """The study IDs on the list page, computed apart from the page: all rows (one page)."""
    from patients.models import Patient

    if model is Patient:
        return sorted(Patient.objects.values_list("study_id", flat=True))
    return sorted(set(model.objects.values_list("patient__study_id", flat=True)))


@pytest.mark.parametrize("index", range(5))
def test_an_admin_list_of_patient_data_writes_one_row_listing_its_study_ids(
        client, manager, records, make_patient, index):
    from core.models import AdminListReadLog
    from patients.models import PatientAccessLog

    make_patient()  # a second patient, on the patient list at least
    model = _list_models()[index]
    client.force_login(manager)
    if model is PatientAccessLog:  # a read of a record first, so the access log has a row
        patient = make_patient()
        client.get(reverse("admin:patients_patient_change", args=[patient.pk]))
    expected = _shown_study_ids(model)
    assert expected, model  # the records give every list at least one row
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    before = AdminListReadLog.objects.count()
    assert client.get(url).status_code == 200
    assert AdminListReadLog.objects.count() == before + 1
    entry = AdminListReadLog.objects.latest("pk")
    assert (entry.username, entry.path) == (manager.username, url)
    assert sorted(entry.study_ids) == expected


def test_a_refused_or_empty_admin_list_is_not_logged(client, researcher, manager, db):
    from core.models import AdminListReadLog

    researcher.is_staff = True
    researcher.save()
    client.force_login(researcher)
    assert client.get(reverse("admin:patients_patient_changelist")).status_code == 403
    client.force_login(manager)
    assert client.get(reverse("admin:patients_patient_changelist")).status_code == 200
    assert not AdminListReadLog.objects.exists()  # no patient, nothing shown
