"""Each patient's invitation in words for the worklist (selfcompletion.selectors
.invitation_states); front's worklist column composes it with the reminders'."""
from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from selfcompletion.selectors import InvitationState, invitation_states
from selfcompletion.services import (
    followup_link_ensure,
    invitation_draft_save,
    invitation_opened,
    invitation_submit,
)
from tests.factories import full_answers

pytestmark = pytest.mark.django_db


def test_a_link_issued_then_opened_then_sent_awaits_the_nurses_check(link, due_patient):
    invitation, _ = link
    study_id = due_patient.study_id
    today = timezone.localdate(invitation.created_at)
    assert invitation_states([study_id]) == {study_id: InvitationState(
        text=f"Link: issued {today.day} {today:%b}, not opened yet", awaiting_check=False)}
    invitation_opened(invitation)
    assert invitation_states([study_id])[study_id].text.startswith("Link: opened ")
    invitation = invitation_draft_save(invitation=invitation, answers=full_answers())
    invitation_submit(invitation=invitation)
    state = invitation_states([study_id])[study_id]
    assert state.awaiting_check and "completed by the patient" in state.text


def test_patients_without_an_invitation_are_left_out_and_no_ids_run_no_query(
        make_patient, due_patient, django_assert_num_queries):
    other = make_patient()
    assert invitation_states([other.study_id, due_patient.study_id]) == {}
    with django_assert_num_queries(0):
        assert invitation_states([]) == {}


def test_the_dates_are_the_local_day(due_patient, nurse_a, settings):
    # 23:30 UTC on 1 March is 2 March in a zone an hour ahead: the nurse's day is shown
    settings.TIME_ZONE = "Europe/Paris"
    moment = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    with time_machine.travel(moment, tick=False):
        followup_link_ensure(patient=due_patient, by=nurse_a)
        assert invitation_states([due_patient.study_id])[due_patient.study_id].text == (
            "Link: issued 2 Mar, not opened yet")
