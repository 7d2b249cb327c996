"""Withdrawal ends data collection: through the services, the pages and the import."""
from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from patients.models import FollowUpStatus, LostReason, Patient
from patients.services import patient_mark_lost, patient_update, patient_withdraw
from questionnaires.models import Administration
from questionnaires.services import administration_save
from questionnaires.tests.cohort_files import cohort_row, write_cohort
from tests.factories import full_answers

from .entry_helpers import entry_data, entry_url

pytestmark = pytest.mark.django_db

CONSENT = timezone.localdate() - dt.timedelta(days=120)
WITHDRAWN_ON = CONSENT + dt.timedelta(days=30)
NOTE = f"Withdrawn on {WITHDRAWN_ON:%Y-%m-%d}: no further data collection"


@pytest.fixture
def withdrawn(make_patient, make_administration, data_manager):
    """A patient with a complete baseline who withdrew; `keep` says whether data stay."""
    def make(*, keep: bool) -> Patient:
        patient = make_patient(consented_on=CONSENT)
        make_administration(patient)
        patient_withdraw(patient=patient, withdrawn_on=WITHDRAWN_ON, reason="",
                         keep_collected_data=keep, by=data_manager)
        patient.refresh_from_db()
        return patient

    return make


def _followup(patient, nurse, **kwargs):
    return administration_save(patient=patient, timepoint="followup",
                               administered_on=CONSENT + dt.timedelta(days=90),
                               answers=full_answers(), by=nurse, complete=True, **kwargs)


def _snapshot(patient) -> tuple:
    patient.refresh_from_db()
    return (patient.followup_status, patient.lost_reason, patient.age,
            list(Administration.objects.filter(patient=patient)
                 .values_list("timepoint", "version", "bpi_worst")),
            Patient.history.filter(id=patient.pk).count(),
            Administration.history.filter(patient_id=patient.pk).count())


# -- services ------------------------------------------------------------------------------

@pytest.mark.parametrize("keep", [True, False])
def test_no_new_administration_after_a_withdrawal(withdrawn, nurse_a, keep):
    patient = withdrawn(keep=keep)
    before = _snapshot(patient)
    with pytest.raises(ValidationError, match=NOTE):
        _followup(patient, nurse_a)
    assert _snapshot(patient) == before
    assert (patient.followup_status, patient.lost_reason) == (FollowUpStatus.LOST,
                                                              LostReason.WITHDREW)


def test_data_left_out_are_not_changed_either(withdrawn, nurse_a, data_manager):
    patient = withdrawn(keep=False)
    baseline = Administration.objects.get(patient=patient)
    before = _snapshot(patient)
    with pytest.raises(ValidationError, match="left out"):
        administration_save(patient=patient, timepoint="baseline",
                            administered_on=baseline.administered_on,
                            answers={**full_answers(), "bpi_worst": 2}, by=nurse_a, complete=True,
                            base_version=baseline.version, reason="keying error")
    with pytest.raises(ValidationError, match="left out"):
        patient_update(patient=patient, by=data_manager, reason="keying error", age=50)
    assert _snapshot(patient) == before


def test_kept_data_can_still_be_corrected(withdrawn, nurse_a, data_manager):
    patient = withdrawn(keep=True)
    baseline = Administration.objects.get(patient=patient)
    corrected = administration_save(
        patient=patient, timepoint="baseline", administered_on=baseline.administered_on,
        answers={**full_answers(), "bpi_worst": 2}, by=nurse_a, complete=True,
        base_version=baseline.version, reason="keying error")
    assert (corrected.bpi_worst, corrected.version) == (2, baseline.version + 1)
    assert patient_update(patient=patient, by=data_manager, reason="typo", age=50).age == 50


def test_a_withdrawn_patient_is_not_marked_lost_for_another_reason(withdrawn, data_manager):
    patient = withdrawn(keep=True)
    with pytest.raises(ValidationError, match="withdrew"):
        patient_mark_lost(patient=patient, lost_reason=LostReason.DID_NOT_ATTEND,
                          by=data_manager)
    patient.refresh_from_db()
    assert patient.lost_reason == LostReason.WITHDREW


# -- pages ---------------------------------------------------------------------------------

def test_a_forged_followup_post_after_withdrawal_is_refused(client, withdrawn, nurse_a):
    patient = withdrawn(keep=False)
    before = _snapshot(patient)
    client.force_login(nurse_a)
    response = client.post(entry_url(patient, "followup"), entry_data(
        full_answers(), administered_on=CONSENT + dt.timedelta(days=90)))
    assert response.status_code == 200  # the page again, with the refusal
    assert NOTE in response.content.decode()
    assert _snapshot(patient) == before
    assert patient.followup_status == FollowUpStatus.LOST


@pytest.mark.parametrize(("keep", "timepoint", "form_offered"), [
    (True, "followup", False), (True, "baseline", True), (False, "baseline", False)])
def test_entry_page_says_why_and_offers_a_form_only_for_a_correction(
        client, withdrawn, nurse_a, keep, timepoint, form_offered):
    patient = withdrawn(keep=keep)
    client.force_login(nurse_a)
    page = client.get(entry_url(patient, timepoint)).content.decode()
    assert NOTE in page
    assert ('name="action"' in page) is form_offered


# -- import --------------------------------------------------------------------------------

@pytest.mark.parametrize("keep", [True, False])
def test_the_import_adds_nothing_after_a_withdrawal(withdrawn, tmp_path, keep):
    patient = withdrawn(keep=keep)
    before = _snapshot(patient)
    row = cohort_row(patient.study_id, "followup",
                     (CONSENT + dt.timedelta(days=90)).isoformat(), age="48")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_cohort", str(write_cohort(tmp_path / "f.csv", [row])),
                     stdout=StringIO(), stderr=err)
    assert f"{patient.study_id} has withdrawn consent" in err.getvalue()
    assert _snapshot(patient) == before
