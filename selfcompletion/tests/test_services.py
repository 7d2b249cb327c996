"""Issuing links, their states, and submitting answers through the data-entry service."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.crypto import decrypt
from patients.services import patient_withdraw
from patients.worklist import followup_dates
from questionnaires.models import Administration, AdministrationSource
from questionnaires.services import administration_confirm, administration_save
from selfcompletion import selectors
from selfcompletion.models import Invitation
from selfcompletion.parts import SKIP
from selfcompletion.services import (
    InvitationClosed,
    followup_link_ensure,
    invitation_draft_save,
    invitation_submit,
    link_code,
)
from tests.factories import full_answers

pytestmark = pytest.mark.django_db


def test_link_is_stored_hashed_and_encrypted_and_valid_in_the_window(link, due_patient):
    invitation, token = link
    assert len(token) >= 43  # 32 random bytes: 256 bits
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert decrypt(invitation.token_encrypted) == token
    stored = Invitation.objects.filter(pk=invitation.pk).values().get()
    assert not any(token in str(value) for value in stored.values())
    dates = followup_dates(due_patient.consented_on)  # baseline dated on consent
    assert (invitation.valid_from, invitation.valid_until) == (dates.window_start,
                                                               dates.window_end)
    assert invitation.timepoint == "followup" and invitation.channel == "link"


def test_ensure_returns_the_same_usable_link(link, due_patient):
    invitation, token = link
    again, path = followup_link_ensure(patient=due_patient)
    assert again.pk == invitation.pk and path == f"/p/{token}/"
    assert Invitation.objects.count() == 1


def test_a_sent_link_even_with_gaps_completes_the_follow_up_so_no_new_link(
        link, due_patient):
    invitation, _ = link
    invitation_draft_save(invitation=invitation, answers={"bpi_worst": 4})
    invitation_submit(invitation=invitation)  # complete, with 33 items missing
    with pytest.raises(ValidationError, match="already complete"):
        followup_link_ensure(patient=due_patient)


def test_no_link_for_a_withdrawn_patient_or_without_baseline(due_patient, make_patient,
                                                             nurse_a):
    patient_withdraw(patient=due_patient, withdrawn_on=timezone.localdate(), reason="",
                     keep_collected_data=True, by=nurse_a)
    with pytest.raises(ValidationError, match="no further data collection"):
        followup_link_ensure(patient=due_patient)
    with pytest.raises(ValidationError, match="baseline"):
        followup_link_ensure(patient=make_patient())


def test_no_link_once_the_window_has_closed(make_patient, make_administration):
    patient = make_patient(consented_on=timezone.localdate() - dt.timedelta(days=200))
    make_administration(patient)
    with pytest.raises(ValidationError, match="window closed"):
        followup_link_ensure(patient=patient)


def test_lookup_by_token_and_code_and_tampering(link):
    invitation, token = link
    assert selectors.invitation_by_token(token).pk == invitation.pk
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert selectors.invitation_by_token(tampered) is None
    assert selectors.invitation_by_token(token + "x" * 100) is None
    assert selectors.invitation_by_token("") is None
    code = link_code(invitation)
    typed = f" {code[:5].lower()}-{code[5:]} "
    assert selectors.invitation_by_code(typed).pk == invitation.pk
    assert selectors.invitation_by_code("ABCDE-FGHJ0") is None  # 0 is not in the alphabet


@pytest.mark.parametrize(("change", "state"), [
    ({"valid_until": timezone.localdate() - dt.timedelta(days=1)}, selectors.EXPIRED),
    ({"valid_from": timezone.localdate() + dt.timedelta(days=1),
      "valid_until": timezone.localdate() + dt.timedelta(days=5)}, selectors.NOT_YET_OPEN),
    ({"revoked_at": timezone.now()}, selectors.NOT_NEEDED),
    ({"submitted_at": timezone.now()}, selectors.USED),
])
def test_link_states(link, change, state):
    invitation, _ = link
    Invitation.objects.filter(pk=invitation.pk).update(**change)
    invitation.refresh_from_db()
    assert selectors.link_state(invitation, today=timezone.localdate()) == state


def test_withdrawn_or_completed_by_a_nurse_means_not_needed(link, due_patient, nurse_a,
                                                           make_administration):
    invitation, _ = link
    assert selectors.link_state(invitation, today=timezone.localdate()) == selectors.USABLE
    make_administration(due_patient, timepoint="followup")
    assert selectors.link_state(invitation, today=timezone.localdate()) == selectors.NOT_NEEDED
    with pytest.raises(InvitationClosed) as closed:
        invitation_submit(invitation=invitation)
    assert closed.value.state == selectors.NOT_NEEDED


def test_withdrawal_after_issue_closes_the_link(link, due_patient, nurse_a):
    invitation, _ = link
    patient_withdraw(patient=due_patient, withdrawn_on=timezone.localdate(), reason="",
                     keep_collected_data=True, by=nurse_a)
    with pytest.raises(InvitationClosed):
        invitation_draft_save(invitation=invitation, answers={"bpi_worst": 1})
    assert not Administration.objects.filter(timepoint="followup").exists()


def test_submit_stores_a_complete_administration_from_the_link_once(link, every_answer):
    invitation, _ = link
    answers = {**every_answer, "bpi_now": SKIP}
    invitation_draft_save(invitation=invitation, answers=answers)
    administration = invitation_submit(invitation=invitation)
    assert administration.source == AdministrationSource.LINK
    assert administration.is_complete
    assert administration.missing_reasons == {"bpi_now": "declined"}
    assert administration.bpi_now is None and administration.bpi_worst == 3
    assert administration.administered_on == timezone.localdate()
    assert administration.entered_by is None and administration.awaits_check
    record = administration.history.get()
    assert record.source == "link" and "patient" in record.history_change_reason
    invitation.refresh_from_db()
    assert invitation.submitted_at and invitation.administration_id == administration.pk
    with pytest.raises(InvitationClosed) as closed:
        invitation_submit(invitation=invitation)
    assert closed.value.state == selectors.USED
    assert Administration.objects.filter(timepoint="followup").count() == 1


def test_an_unanswered_item_is_stored_missing_in_a_complete_administration(link,
                                                                          every_answer):
    invitation, _ = link
    invitation_draft_save(invitation=invitation,
                          answers={k: v for k, v in every_answer.items() if k != "pih_12"})
    administration = invitation_submit(invitation=invitation)
    assert administration.is_complete and administration.pih_12 is None
    assert administration.missing_reasons == {"pih_12": "not_answered"}


def test_a_nurse_confirms_a_patient_completed_administration(link, every_answer, nurse_a):
    invitation, _ = link
    invitation_draft_save(invitation=invitation, answers=every_answer)
    administration = invitation_submit(invitation=invitation)
    confirmed = administration_confirm(administration=administration, by=nurse_a)
    assert confirmed.checked_by == nurse_a and confirmed.checked_at is not None
    assert not confirmed.awaits_check
    assert confirmed.history.first().history_change_reason.startswith("checked")
    first_check = confirmed.checked_at
    assert administration_confirm(administration=administration,
                                  by=nurse_a).checked_at == first_check


def test_nurse_keyed_administrations_need_no_confirmation(due_patient, nurse_a):
    baseline = due_patient.administrations.get()
    assert baseline.source == AdministrationSource.NURSE and not baseline.awaits_check
    with pytest.raises(ValidationError, match="keyed by a nurse"):
        administration_confirm(administration=baseline, by=nurse_a)


def test_a_nurse_correction_keeps_the_patient_source(link, every_answer, nurse_a):
    invitation, _ = link
    invitation_draft_save(invitation=invitation, answers=every_answer)
    administration = invitation_submit(invitation=invitation)
    corrected = administration_save(
        patient=administration.patient, timepoint="followup",
        administered_on=administration.administered_on,
        answers={**full_answers(), "bpi_worst": 9}, by=nurse_a, complete=True,
        base_version=administration.version, reason="patient asked")
    assert corrected.source == AdministrationSource.LINK and corrected.bpi_worst == 9


def test_unknown_source_is_refused(due_patient, nurse_a):
    with pytest.raises(ValidationError):
        administration_save(patient=due_patient, timepoint="followup",
                            administered_on=timezone.localdate(), answers={}, by=nurse_a,
                            complete=False, source="fax")
