"""Who may see and change what, on every patient URL; and the access log."""
from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.models import Patient, PatientAccessLog, Withdrawal
from questionnaires.models import Administration
from questionnaires.tests.entry_helpers import entry_data
from tests.factories import full_answers, make_user

pytestmark = pytest.mark.django_db

READ_URLS = [("patients:detail", ()), ("patients:history", ())]
WRITE_URLS = [("patients:edit", ()), ("patients:withdraw", ()), ("patients:lost", ()),
              ("questionnaires:entry", ("baseline",)), ("questionnaires:entry", ("followup",))]
ALL_URLS = READ_URLS + WRITE_URLS


def _url(name, extra, patient):
    return reverse(name, args=[patient.study_id, *extra])


@pytest.fixture
def patient(make_patient):
    return make_patient()


@pytest.mark.parametrize(("name", "extra"), ALL_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_nurse_from_other_clinic_gets_404(client, nurse_b, patient, name, extra, method):
    client.force_login(nurse_b)
    response = getattr(client, method)(_url(name, extra, patient))
    assert response.status_code == 404
    assert not PatientAccessLog.objects.exists()


def test_nurse_from_other_clinic_gets_404_on_worklist_and_enrolment(client, nurse_b, clinic_a):
    client.force_login(nurse_b)
    assert client.get(reverse("clinics:worklist", args=["A"])).status_code == 404
    assert client.post(reverse("patients:enrol", args=["A"])).status_code == 404


def test_unknown_patient_is_a_404_like_an_outsider(client, nurse_a, clinic_a):
    client.force_login(nurse_a)
    assert client.get(reverse("patients:detail", args=["A-999"])).status_code == 404


@pytest.mark.parametrize(("name", "extra"), ALL_URLS)
def test_signed_out_user_is_sent_to_sign_in(client, patient, name, extra):
    response = client.get(_url(name, extra, patient))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("role", ["researcher", "statistician"])
@pytest.mark.parametrize(("name", "extra"), WRITE_URLS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_read_only_roles_get_403_on_every_write(client, request, patient, role, name, extra,
                                                method):
    client.force_login(request.getfixturevalue(role))
    data = entry_data(full_answers(), administered_on=patient.consented_on)
    data.update(withdrawn_on=timezone.localdate().isoformat(), keep_collected_data="yes",
                lost_reason="discharged", age="50", reason="test")
    response = getattr(client, method)(_url(name, extra, patient), data)
    assert response.status_code == 403
    patient.refresh_from_db()
    assert (patient.age, patient.followup_status) == (48, "active")
    assert not Administration.objects.exists()
    assert not Withdrawal.objects.exists()


@pytest.mark.parametrize("role", ["researcher", "statistician"])
def test_read_only_roles_cannot_enrol(client, request, clinic_a, role):
    client.force_login(request.getfixturevalue(role))
    response = client.post(reverse("patients:enrol", args=["A"]), {
        "consent_given": "on", "consented_on": timezone.localdate().isoformat(),
        "consent_form_version": "v1", "consent_taken_by": "X"})
    assert response.status_code == 403
    assert not Patient.objects.exists()


@pytest.mark.parametrize("role", ["researcher", "statistician"])
@pytest.mark.parametrize(("name", "extra"), READ_URLS)
def test_read_only_roles_can_read_the_record(client, request, patient, role, name, extra):
    client.force_login(request.getfixturevalue(role))
    response = client.get(_url(name, extra, patient))
    assert response.status_code == 200
    assert "Record withdrawal" not in response.content.decode()


def test_data_manager_can_enter_questionnaires(client, data_manager, patient):
    client.force_login(data_manager)
    url = reverse("questionnaires:entry", args=[patient.study_id, "baseline"])
    response = client.post(url, entry_data(full_answers(), administered_on=patient.consented_on))
    assert response.status_code == 302
    assert Administration.objects.get().entered_by == data_manager


def test_data_manager_can_correct_characteristics(client, data_manager, patient):
    client.force_login(data_manager)
    response = client.post(reverse("patients:edit", args=[patient.study_id]),
                           {"age": "51", "reason": "typo in age"})
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.age == 51
    assert patient.history.first().history_change_reason == "typo in age"


def test_data_manager_at_another_clinic_sees_every_clinic(client, clinic_b, make_patient):
    manager_b = make_user("manager_b", [clinic_b], "data_manager")
    patient = make_patient()  # at clinic A
    client.force_login(manager_b)
    assert client.get(reverse("patients:detail", args=[patient.study_id])).status_code == 200


@pytest.mark.parametrize(("name", "extra"), ALL_URLS)
def test_each_view_of_a_patient_is_logged(client, nurse_a, patient, name, extra):
    client.force_login(nurse_a)
    url = _url(name, extra, patient)
    client.get(url)
    client.get(url)
    logs = list(PatientAccessLog.objects.all())
    assert len(logs) == 2
    assert {(log.user, log.patient, log.path) for log in logs} == {(nurse_a, patient, url)}


def test_worklist_does_not_log_each_patient(client, nurse_a, patient):
    client.force_login(nurse_a)
    client.get(reverse("clinics:worklist", args=["A"]))
    assert not PatientAccessLog.objects.exists()
