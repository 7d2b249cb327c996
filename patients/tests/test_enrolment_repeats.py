"""Enrolment is idempotent without the form's hidden key: a repeat of the same enrolment
by the same user (a resend, a forged or replayed post) returns the first patient."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patients.models import Patient
from patients.services import FORM_REPEAT_WINDOW, patient_enrol
from tests.factories import make_user

CONSENT = timezone.localdate() - dt.timedelta(days=3)
FIELDS = {"consented_on": CONSENT, "consent_form_version": "v1.2",
          "consent_taken_by": "Sister Jones", "age": 40, "gender": "female"}


def _enrol(clinic, by, **changes):
    return patient_enrol(clinic=clinic, by=by, repeat_window=FORM_REPEAT_WINDOW,
                         **{**FIELDS, **changes})


@pytest.mark.django_db
def test_an_identical_repeat_returns_the_first_patient(clinic_a, nurse_a):
    first, again = _enrol(clinic_a, nurse_a), _enrol(clinic_a, nurse_a)
    assert again.pk == first.pk
    assert Patient.objects.count() == 1
    assert Patient.history.count() == 1


@pytest.mark.django_db
def test_a_repeat_with_the_same_typed_study_id_returns_the_first_patient(clinic_a, nurse_a):
    first = _enrol(clinic_a, nurse_a, study_id="A-017")
    assert _enrol(clinic_a, nurse_a, study_id="A-017").pk == first.pk


@pytest.mark.django_db
@pytest.mark.parametrize("changes", [{"age": 41}, {"gender": ""}, {"consent_taken_by": "N"},
                                     {"consent_form_version": "v1.3"},
                                     {"consented_on": CONSENT - dt.timedelta(days=1)}])
def test_any_field_that_differs_makes_another_patient(clinic_a, nurse_a, changes):
    first, second = _enrol(clinic_a, nurse_a), _enrol(clinic_a, nurse_a, **changes)
    assert second.pk != first.pk
    assert (first.study_id, second.study_id) == ("A-001", "A-002")


@pytest.mark.django_db
def test_another_user_or_an_older_enrolment_is_not_a_repeat(clinic_a, nurse_a):
    first = _enrol(clinic_a, nurse_a)
    colleague = make_user("nurse_a2", [clinic_a], "nurse")
    assert _enrol(clinic_a, colleague).pk != first.pk
    Patient.objects.update(created_at=first.created_at - FORM_REPEAT_WINDOW)
    assert _enrol(clinic_a, nurse_a).pk != first.pk
    assert Patient.objects.count() == 3


@pytest.mark.django_db
def test_callers_without_the_window_keep_enrolling(clinic_a, nurse_a):
    """Scripts and data builders enrol many alike patients on purpose."""
    for _ in range(2):
        patient_enrol(clinic=clinic_a, by=nurse_a, **FIELDS)
    assert Patient.objects.count() == 2


@pytest.mark.django_db
def test_a_post_without_the_form_key_is_not_enrolled_twice(client, clinic_a, nurse_a):
    client.force_login(nurse_a)
    data = {"consent_given": "on", "consented_on": CONSENT.isoformat(),
            "consent_form_version": "v1.2", "consent_taken_by": "Sister Jones", "age": "40"}
    url = reverse("patients:enrol", args=["A"])
    first, second = client.post(url, data), client.post(url, data)
    assert first.url == second.url == reverse("questionnaires:entry",
                                              args=["A-001", "baseline"])
    assert Patient.objects.count() == 1


# -- parallel posts on PostgreSQL ------------------------------------------------------------

@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_ten_parallel_posts_without_the_key_enrol_one_patient(postgres_only, clinic_a,
                                                              nurse_a):
    data = {"consent_given": "on", "consented_on": CONSENT.isoformat(),
            "consent_form_version": "v1.2", "consent_taken_by": "Sister Jones", "age": "40"}
    url = reverse("patients:enrol", args=["A"])
    barrier, locations = threading.Barrier(10), [""] * 10

    def post(index: int) -> None:
        client = Client()
        client.force_login(nurse_a)
        barrier.wait()
        try:
            locations[index] = client.post(url, data).get("Location", "")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert locations == [reverse("questionnaires:entry", args=["A-001", "baseline"])] * 10
    assert list(Patient.objects.values_list("study_id", flat=True)) == ["A-001"]
