"""Saving administrations: scores on save, validation, corrections, concurrency."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from questionnaires.models import Administration
from questionnaires.services import StaleEditError, administration_save
from tests.factories import full_answers

pytestmark = pytest.mark.django_db


def test_scores_are_computed_on_save(make_patient, make_administration):
    admin = make_administration(make_patient(), answers=full_answers(bpi=5, ppic=4, pih=6))
    admin.refresh_from_db()
    assert admin.bpi_severity == pytest.approx(5.0)
    assert admin.ppic_partnership == pytest.approx(44.0)
    assert admin.pih_overall == pytest.approx(75.0)
    assert admin.ppic_partnership_n == 11
    assert admin.scoring_version


def test_changing_an_answer_changes_the_score(make_patient, make_administration, nurse_a):
    patient = make_patient()
    admin = make_administration(patient, answers=full_answers(ppic=4))
    answers = full_answers(ppic=4) | {"ppic_1": 5}
    administration_save(patient=patient, timepoint="baseline",
                        administered_on=admin.administered_on, answers=answers, by=nurse_a,
                        complete=True, base_version=admin.version, reason="keying error")
    admin.refresh_from_db()
    assert admin.ppic_partnership == pytest.approx(45.0)
    assert admin.history.first().history_change_reason == "keying error"


def test_change_to_completed_administration_needs_a_reason(make_patient, make_administration,
                                                          nurse_a):
    patient = make_patient()
    admin = make_administration(patient)
    with pytest.raises(ValidationError) as excinfo:
        administration_save(patient=patient, timepoint="baseline",
                            administered_on=admin.administered_on,
                            answers=full_answers() | {"pih_1": 0}, by=nurse_a, complete=True,
                            base_version=admin.version)
    assert "reason" in excinfo.value.message_dict
    admin.refresh_from_db()
    assert admin.pih_1 == 6


def test_out_of_range_item_names_the_item_and_writes_nothing(make_patient, nurse_a):
    patient = make_patient()
    with pytest.raises(ValidationError) as excinfo:
        administration_save(patient=patient, timepoint="baseline",
                            administered_on=patient.consented_on,
                            answers=full_answers() | {"pih_3": 9}, by=nurse_a, complete=True)
    assert "pih_3" in excinfo.value.message_dict
    assert not Administration.objects.exists()


def test_stale_edit_is_refused_and_shows_the_other_change(make_patient, make_administration,
                                                         nurse_a, nurse_b):
    patient = make_patient()
    admin = make_administration(patient, complete=False)
    started_from = admin.version
    administration_save(patient=patient, timepoint="baseline",
                        administered_on=admin.administered_on,
                        answers=full_answers() | {"bpi_worst": 9}, by=nurse_a,
                        complete=False, base_version=started_from)
    with pytest.raises(StaleEditError) as excinfo:
        administration_save(patient=patient, timepoint="baseline",
                            administered_on=admin.administered_on,
                            answers=full_answers() | {"bpi_least": 1}, by=nurse_b,
                            complete=False, base_version=started_from)
    assert excinfo.value.current.bpi_worst == 9
    admin.refresh_from_db()
    assert (admin.bpi_worst, admin.bpi_least) == (9, 5)


def test_identical_resubmission_creates_one_record(make_patient, make_administration):
    patient = make_patient()
    first = make_administration(patient)
    second = make_administration(patient)
    assert first.pk == second.pk
    assert Administration.objects.count() == 1
    assert first.history.count() == 1


def test_administration_before_consent_is_refused(make_patient, nurse_a):
    patient = make_patient()
    with pytest.raises(ValidationError) as excinfo:
        administration_save(patient=patient, timepoint="baseline",
                            administered_on=patient.consented_on - dt.timedelta(days=1),
                            answers=full_answers(), by=nurse_a, complete=True)
    assert "administered_on" in excinfo.value.message_dict


def test_followup_before_baseline_is_refused(make_patient, make_administration, nurse_a):
    patient = make_patient()
    baseline = make_administration(patient)
    with pytest.raises(ValidationError):
        administration_save(patient=patient, timepoint="followup",
                            administered_on=baseline.administered_on, answers=full_answers(),
                            by=nurse_a, complete=True)


def test_completed_followup_marks_the_patient_completed(make_patient, make_administration):
    patient = make_patient()
    make_administration(patient)
    make_administration(patient, timepoint="followup")
    patient.refresh_from_db()
    assert patient.followup_status == "completed"


def test_database_refuses_an_out_of_range_item(make_patient, make_administration):
    admin = make_administration(make_patient())
    with pytest.raises(IntegrityError), transaction.atomic():
        Administration.objects.filter(pk=admin.pk).update(ppic_1=0)


def test_database_refuses_a_second_administration_at_a_timepoint(make_patient,
                                                                 make_administration):
    admin = make_administration(make_patient())
    with pytest.raises(IntegrityError), transaction.atomic():
        Administration.objects.create(patient=admin.patient, timepoint="baseline",
                                      administered_on=admin.administered_on)
