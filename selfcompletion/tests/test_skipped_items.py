"""A questionnaire the patient sends with items blank or declined is complete (issue 14).

Scores are checked against hand computations from the worked examples in INSTRUMENTS.md,
not against the scoring module's own output.
"""
from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from patients.models import FollowUpStatus, Patient
from patients.services import patient_withdraw
from questionnaires.instruments import ITEM_CODES
from questionnaires.models import Administration, AdministrationStatus, MissingReason
from questionnaires.services import administration_confirm, administration_save
from selfcompletion.models import Invitation
from selfcompletion.parts import SKIP
from selfcompletion.services import (
    invitation_draft_save,
    invitation_submit,
    tablet_handover_start,
)
from tests.factories import full_answers

pytestmark = pytest.mark.django_db

BLANK = object()  # an item the patient left out: not posted, so not in the draft


def _worked_example() -> dict[str, object]:
    """INSTRUMENTS.md worked examples in one questionnaire.

    BPI severity 7, 3, 5, 6 -> 5.25; interference 4, 5, -, 6, -, -, 7 -> 5.5;
    PPiC ten answered as 5, one missing -> 55.0; PIH 9, 10, 11 = 6, 6, - -> side effects
    75.0, pih_1 = 8 with pih_2 missing -> knowledge missing.
    """
    answers: dict[str, object] = full_answers(bpi=0, ppic=5, pih=8)
    answers.update(bpi_worst=7, bpi_least=3, bpi_average=5, bpi_now=6,
                   bpi_general_activity=4, bpi_mood=5, bpi_walking=BLANK, bpi_work=6,
                   bpi_relations=SKIP, bpi_sleep=BLANK, bpi_enjoyment=7,
                   ppic_7=SKIP, pih_1=8, pih_2=BLANK, pih_9=6, pih_10=6, pih_11=BLANK)
    return answers


def _send(invitation: Invitation, answers: dict[str, object]) -> Administration:
    invitation_draft_save(invitation=invitation, answers={
        code: value for code, value in answers.items() if value is not BLANK})
    return invitation_submit(invitation=invitation)


def test_a_link_sent_with_blank_and_declined_items_is_complete_and_scored(link, due_patient,
                                                                          nurse_a):
    invitation, _ = link
    administration = _send(invitation, _worked_example())
    assert administration.status == AdministrationStatus.COMPLETE
    assert administration.missing_reasons == {
        "bpi_walking": MissingReason.NOT_ANSWERED, "bpi_relations": MissingReason.DECLINED,
        "bpi_sleep": MissingReason.NOT_ANSWERED, "ppic_7": MissingReason.DECLINED,
        "pih_2": MissingReason.NOT_ANSWERED, "pih_11": MissingReason.NOT_ANSWERED}
    assert all(getattr(administration, code) is None for code in administration.missing_reasons)
    assert administration.bpi_severity == pytest.approx(5.25)
    assert administration.bpi_interference == pytest.approx((4 + 5 + 6 + 7) / 4)
    assert administration.bpi_interference_n == 4
    assert administration.ppic_partnership == pytest.approx(55.0)
    assert administration.ppic_partnership_n == 10
    assert administration.pih_side_effects == pytest.approx(75.0)
    assert administration.pih_knowledge is None
    # Overall: 10 of 12 answered (the rest 8) -> prorated mean x 12 / 96.
    assert administration.pih_overall == pytest.approx(100 * (8 * 8 + 6 + 6) / 10 / 8)
    due_patient.refresh_from_db()
    assert due_patient.followup_status == FollowUpStatus.COMPLETED
    assert administration_confirm(administration=administration, by=nurse_a).is_complete


def test_three_interference_items_answered_leave_that_score_missing_but_complete(link):
    invitation, _ = link
    answers = _worked_example()
    answers["bpi_work"] = SKIP  # 4, 5, 7 answered: 3 of 7
    administration = _send(invitation, answers)
    assert administration.is_complete and administration.bpi_interference is None
    assert administration.bpi_interference_n == 3


def test_the_tablet_with_skipped_items_is_complete_too(make_patient, nurse_a):
    patient = make_patient()
    invitation = tablet_handover_start(patient=patient, timepoint="baseline", by=nurse_a)
    administration = _send(invitation, {"bpi_worst": 4, "bpi_least": SKIP, "ppic_1": 2})
    assert administration.is_complete and administration.source == "tablet"
    assert administration.missing_reasons["bpi_least"] == MissingReason.DECLINED
    assert administration.missing_reasons["pih_12"] == MissingReason.NOT_ANSWERED
    assert len(administration.missing_reasons) == len(ITEM_CODES) - 2


def test_a_nurse_filling_in_a_missing_item_drops_its_reason(link, nurse_a):
    invitation, _ = link
    administration = _send(invitation, _worked_example())
    corrected = administration_save(
        patient=administration.patient, timepoint="followup",
        administered_on=administration.administered_on,
        answers={**administration.answers, "bpi_walking": 2}, by=nurse_a, complete=True,
        base_version=administration.version, reason="patient phoned in the answer")
    assert "bpi_walking" not in corrected.missing_reasons
    assert corrected.missing_reasons["bpi_relations"] == MissingReason.DECLINED


# -- the data migration for administrations stuck as drafts ---------------------------------

def _stuck_draft(invitation: Invitation, answers: dict[str, object]) -> Administration:
    """What the old invitation_submit stored for a questionnaire with a gap: a draft."""
    draft = {code: value for code, value in answers.items() if value is not BLANK}
    administration = administration_save(
        patient=invitation.patient, timepoint=invitation.timepoint,
        administered_on=timezone.localdate(),
        answers={code: draft[code] if isinstance(draft.get(code), int) else None
                 for code in ITEM_CODES},
        by=None, complete=False, reason="completed by the patient (one-time link)",
        source=invitation.channel)
    Invitation.objects.filter(pk=invitation.pk).update(
        draft=draft, submitted_at=timezone.now(), administration=administration)
    return administration


def _migrate() -> None:
    module = importlib.import_module(
        "selfcompletion.migrations.0002_link_complete_sent_drafts")
    module.complete_sent_drafts(django_apps, None)


def test_the_migration_completes_a_sent_draft_with_its_reasons(link, due_patient):
    invitation, _ = link
    stuck = _stuck_draft(invitation, _worked_example())
    assert stuck.status == AdministrationStatus.DRAFT
    _migrate()
    done = Administration.objects.get(pk=stuck.pk)
    assert done.is_complete and done.version == stuck.version + 1
    assert done.missing_reasons["bpi_relations"] == MissingReason.DECLINED
    assert done.missing_reasons["bpi_walking"] == MissingReason.NOT_ANSWERED
    assert done.bpi_severity == pytest.approx(5.25)
    assert "data migration" in done.history.first().history_change_reason
    assert Patient.objects.get(pk=due_patient.pk).followup_status == FollowUpStatus.COMPLETED
    _migrate()  # again: nothing more to do
    assert Administration.objects.get(pk=stuck.pk).version == done.version


def test_the_migration_leaves_a_draft_edited_since_and_a_withdrawn_follow_up(link, due_patient,
                                                                             nurse_a):
    invitation, _ = link
    stuck = _stuck_draft(invitation, _worked_example())
    edited = administration_save(
        patient=due_patient, timepoint="followup", administered_on=stuck.administered_on,
        answers={**stuck.answers, "bpi_walking": 1}, by=nurse_a, complete=False,
        base_version=stuck.version, reason="nurse keying the phone answers")
    _migrate()
    assert Administration.objects.get(pk=edited.pk).status == AdministrationStatus.DRAFT


def test_the_migration_completes_a_withdrawn_patients_draft_without_completing_follow_up(
        link, due_patient, nurse_a):
    invitation, _ = link
    stuck = _stuck_draft(invitation, _worked_example())
    patient_withdraw(patient=due_patient, withdrawn_on=timezone.localdate(), reason="",
                     keep_collected_data=True, by=nurse_a)
    _migrate()
    assert Administration.objects.get(pk=stuck.pk).is_complete
    patient = Patient.objects.get(pk=due_patient.pk)
    assert patient.followup_status == FollowUpStatus.LOST
