"""A withdrawal erases the patient's unsent link (and tablet) answers (issue 15)."""
from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from patients.services import patient_withdraw
from selfcompletion import selectors
from selfcompletion.models import Invitation
from selfcompletion.services import (
    erase_link_drafts,
    invitation_draft_save,
    invitation_submit,
    tablet_handover_start,
)

pytestmark = pytest.mark.django_db


def _withdraw(patient, nurse, *, keep: bool = True) -> None:
    patient_withdraw(patient=patient, withdrawn_on=timezone.localdate(), reason="",
                     keep_collected_data=keep, by=nurse)


def test_a_withdrawal_erases_the_open_links_answers_and_revokes_it(link, due_patient,
                                                                   nurse_a):
    invitation, token = link
    invitation_draft_save(invitation=invitation, answers={"bpi_worst": 8, "bpi_least": "skip"})
    _withdraw(due_patient, nurse_a)  # keeping collected data: a draft is not collected data
    invitation.refresh_from_db()
    assert invitation.draft == {} and invitation.revoked_at is not None
    assert selectors.link_state(invitation, today=timezone.localdate()) == selectors.NOT_NEEDED
    page = Client().get(f"/p/{token}/")
    assert b"no longer needed" in page.content and b"bpi_worst" not in page.content


def test_a_withdrawal_erases_an_unsent_tablet_draft_too(make_patient, nurse_a):
    patient = make_patient()
    tablet = tablet_handover_start(patient=patient, timepoint="baseline", by=nurse_a)
    invitation_draft_save(invitation=tablet, answers={"pih_1": 3})
    _withdraw(patient, nurse_a, keep=False)
    tablet.refresh_from_db()
    assert tablet.draft == {} and tablet.revoked_at is not None


def test_sent_invitations_and_other_patients_are_left_alone(link, due_patient, make_patient,
                                                            nurse_a, every_answer):
    invitation, _ = link
    invitation_draft_save(invitation=invitation, answers=every_answer)
    invitation_submit(invitation=invitation)
    other = make_patient()
    other_tablet = tablet_handover_start(patient=other, timepoint="baseline", by=nurse_a)
    invitation_draft_save(invitation=other_tablet, answers={"bpi_worst": 2})
    _withdraw(due_patient, nurse_a)
    invitation.refresh_from_db()
    other_tablet.refresh_from_db()
    assert invitation.draft == every_answer and invitation.revoked_at is None
    assert other_tablet.draft == {"bpi_worst": 2} and other_tablet.revoked_at is None


def test_erase_does_nothing_without_a_withdrawal_and_keeps_the_first_revocation(
        link, due_patient, nurse_a):
    invitation, _ = link
    invitation_draft_save(invitation=invitation, answers={"bpi_worst": 8})
    assert erase_link_drafts(due_patient) == 0
    assert Invitation.objects.get(pk=invitation.pk).draft == {"bpi_worst": 8}
    _withdraw(due_patient, nurse_a)
    first = Invitation.objects.get(pk=invitation.pk).revoked_at
    assert erase_link_drafts(due_patient) == 0  # already erased: nothing to change
    assert erase_link_drafts(due_patient.pk) == 0
    assert Invitation.objects.get(pk=invitation.pk).revoked_at == first


def test_a_mistyped_code_stays_in_the_field(client):
    page = client.post("/p/", {"code": "ABCDE-FGHJX"})
    assert page.status_code == 400
    assert b'value="ABCDE-FGHJX"' in page.content
    assert b'autocomplete="one-time-code"' in page.content
