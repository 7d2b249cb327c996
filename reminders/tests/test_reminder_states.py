"""The reminders column of the worklist and the record's reminders panel, as this app's
selectors read them (front composes them into its pages)."""
from __future__ import annotations

import pytest

from reminders.models import ReminderSend
from reminders.selectors import ReminderState, reminder_panel, reminder_states

from .dates import WINDOW_OPENS, noon

pytestmark = pytest.mark.django_db


def test_an_address_then_a_reminder_sent(clock, contact):
    study_id = contact.patient.study_id
    assert reminder_states([study_id]) == {
        study_id: ReminderState("Email reminders on, none sent yet", False)}
    clock.move_to(noon(WINDOW_OPENS))
    ReminderSend.objects.create(patient=contact.patient, kind="window_open", status="sent",
                                attempts=1, sent_at=noon(WINDOW_OPENS))
    assert reminder_states([study_id]) == {
        study_id: ReminderState("Reminder sent 22 Mar (window opened)", False)}


def test_patients_with_nothing_are_left_out_and_no_ids_run_no_query(
        patient, django_assert_num_queries):
    assert reminder_states([patient.study_id]) == {}
    with django_assert_num_queries(0):
        assert reminder_states([]) == {}


def test_the_panel_is_for_the_clinics_nurses_only(contact, nurse_a, nurse_b, data_manager,
                                                  researcher):
    panel = reminder_panel(user=nurse_a, patient=contact.patient, closed=False)
    assert panel["shown"] and panel["contact"] == contact and panel["sends"] == []
    for other in (nurse_b, data_manager, researcher):
        assert reminder_panel(user=other, patient=contact.patient, closed=False) == {
            "shown": False}
