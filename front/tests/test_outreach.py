"""The worklist's self-completion and reminders column (front.pages.outreach_for, from
selfcompletion's and reminders' selectors): each step of an invitation and each reminder
outcome in words, for a whole page of rows in a fixed number of queries."""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from front.pages import Outreach, outreach_for
from questionnaires.services import administration_confirm
from questionnaires.worklist import clinic_worklist
from reminders.models import MAX_ATTEMPTS, ReminderSend
from reminders.services import contact_record, reminders_stop
from reminders.tests.dates import (
    ADDRESS,
    BASELINE_ON,
    WEEK_LATER,
    WINDOW_CLOSES,
    WINDOW_OPENS,
    noon,
)
from selfcompletion.services import (
    followup_link_ensure,
    invitation_draft_save,
    invitation_opened,
    invitation_submit,
    tablet_handover_start,
)
from tests.factories import enrol_patient, full_answers, save_administration


@pytest.fixture(autouse=True)
def study_window(settings):
    # the defaults reminders/tests/dates.py writes its days out from
    settings.FOLLOWUP_WINDOW_START_DAYS = 76
    settings.FOLLOWUP_DUE_DAYS = 90
    settings.FOLLOWUP_WINDOW_END_DAYS = 120


@pytest.fixture
def enrol(clock, clinic_a, nurse_a):
    """enrol() -> a patient of clinic A with a nurse-keyed baseline on BASELINE_ON; the
    clock (reminders/tests/conftest.py) at noon UTC on the day the window opens."""
    clock.move_to(noon(WINDOW_OPENS))

    def make(*, baseline: bool = True):
        patient = enrol_patient(clinic=clinic_a, by=nurse_a, consented_on=BASELINE_ON)
        if baseline:
            save_administration(patient, by=nurse_a, administered_on=BASELINE_ON)
        return patient
    return make


def state_of(patient) -> Outreach | None:
    rows = clinic_worklist(clinic=patient.clinic).rows
    return outreach_for(rows).get(patient.study_id)


def move(clock, day: dt.date) -> None:
    clock.move_to(noon(day))


# --- the invitation's steps ---------------------------------------------------------------

@pytest.mark.django_db
def test_a_link_goes_from_issued_to_opened_to_completed_to_checked(clock, enrol, nurse_a):
    patient = enrol()
    assert state_of(patient) is None
    invitation, _ = followup_link_ensure(patient=patient, by=nurse_a)
    assert state_of(patient) == Outreach(invitation="Link: issued 22 Mar, not opened yet")
    move(clock, WINDOW_OPENS + dt.timedelta(days=1))
    invitation_opened(invitation)
    assert state_of(patient).invitation == "Link: opened 23 Mar, not sent yet"
    move(clock, WINDOW_OPENS + dt.timedelta(days=2))
    invitation = invitation_draft_save(invitation=invitation, answers=full_answers())
    administration = invitation_submit(invitation=invitation)
    assert state_of(patient) == Outreach(invitation="Link: completed by the patient 24 Mar",
                                         awaiting_check=True)
    move(clock, WINDOW_OPENS + dt.timedelta(days=3))
    administration_confirm(administration=administration, by=nurse_a)
    assert state_of(patient) == Outreach(
        invitation="Link: completed by the patient 24 Mar, checked 25 Mar")


@pytest.mark.django_db
def test_a_part_answered_link_is_complete_says_what_was_skipped_and_awaits_a_check(
        clock, enrol):
    patient = enrol()
    invitation, _ = followup_link_ensure(patient=patient)
    first_item = next(iter(full_answers()))
    invitation = invitation_draft_save(invitation=invitation, answers={first_item: 3})
    invitation_submit(invitation=invitation)
    assert state_of(patient) == Outreach(
        invitation=f"Link: completed by the patient 22 Mar ({len(full_answers()) - 1} items "
                   "left unanswered)", awaiting_check=True)


@pytest.mark.django_db
def test_a_link_not_used_in_its_window_is_expired(clock, enrol):
    patient = enrol()
    followup_link_ensure(patient=patient)
    move(clock, WINDOW_CLOSES + dt.timedelta(days=1))
    assert state_of(patient).invitation == "Link: expired 5 May, not completed"


@pytest.mark.django_db
def test_an_unchecked_baseline_on_the_tablet_wins_over_a_later_link(clock, enrol, nurse_a):
    patient = enrol(baseline=False)
    tablet = tablet_handover_start(patient=patient, timepoint="baseline", by=nurse_a)
    tablet = invitation_draft_save(invitation=tablet, answers=full_answers())
    baseline = invitation_submit(invitation=tablet)
    # the baseline is today: its follow-up window opens later, the link is still issued
    followup_link_ensure(patient=patient, by=nurse_a)
    assert state_of(patient) == Outreach(
        invitation="Tablet (baseline): completed by the patient 22 Mar", awaiting_check=True)
    administration_confirm(administration=baseline, by=nurse_a)
    assert state_of(patient) == Outreach(invitation="Link: issued 22 Mar, not opened yet")


# --- reminders ---------------------------------------------------------------------------------

def send(patient, kind: str, status: str = "sent", attempts: int = 1) -> ReminderSend:
    from django.utils import timezone

    return ReminderSend.objects.create(
        patient=patient, kind=kind, status=status, attempts=attempts,
        last_attempt_at=timezone.now(), sent_at=timezone.now() if status == "sent" else None)


@pytest.mark.django_db
def test_the_latest_reminder_sent_is_named_with_its_date(clock, enrol):
    patient = enrol()
    send(patient, "window_open")
    assert state_of(patient) == Outreach(reminder="Reminder sent 22 Mar (window opened)")
    move(clock, WEEK_LATER)
    send(patient, "week_later")
    move(clock, WINDOW_CLOSES - dt.timedelta(days=7))
    send(patient, "before_close", status="skipped", attempts=0)   # refused: not a reminder
    assert state_of(patient).reminder == "Reminder sent 29 Mar (a week later)"


@pytest.mark.django_db
def test_a_failed_reminder_says_whether_it_will_be_retried(clock, enrol):
    retried, given_up = enrol(), enrol()
    send(retried, "window_open")
    move(clock, WEEK_LATER)
    send(retried, "week_later", status="failed", attempts=3)
    send(given_up, "window_open", status="failed", attempts=MAX_ATTEMPTS)
    assert state_of(retried) == Outreach(
        reminder="Reminder failed, will retry (a week later, 3 attempts)", reminder_failed=True)
    assert state_of(given_up) == Outreach(
        reminder=f"Reminders failed: not sent after {MAX_ATTEMPTS} attempts (window opened)",
        reminder_failed=True)


@pytest.mark.django_db
def test_an_address_without_sends_and_a_stop_by_the_patient(clock, enrol, nurse_a):
    waiting, stopped, no_contact = enrol(), enrol(), enrol()
    for patient in (waiting, stopped):
        contact_record(patient=patient, email=ADDRESS, consented_on=BASELINE_ON,
                       by=nurse_a)
    assert state_of(waiting).reminder == "Email reminders on, none sent yet"
    _, path = followup_link_ensure(patient=stopped)
    send(stopped, "window_open")
    move(clock, WINDOW_OPENS + dt.timedelta(days=1))
    reminders_stop(token=path.strip("/").split("/")[-1])
    assert state_of(stopped).reminder == "Reminders stopped by the patient 23 Mar"
    assert state_of(no_contact) is None


# --- a whole page: fixed queries, rendered text --------------------------------------------------

def _busy_patients(enrol, nurse_a, n: int) -> None:
    """n patients, each with a link opened, a reminder failed and an address."""
    for _ in range(n):
        patient = enrol()
        invitation, _ = followup_link_ensure(patient=patient, by=nurse_a)
        invitation_opened(invitation)
        contact_record(patient=patient, email=ADDRESS, consented_on=BASELINE_ON,
                       by=nurse_a)
        send(patient, "window_open", status="failed", attempts=2)


@pytest.mark.django_db
def test_the_column_reads_a_page_in_three_queries_whatever_its_length(clock, enrol, nurse_a,
                                                                    clinic_a):
    counts = []
    for n in (2, 18):
        _busy_patients(enrol, nurse_a, n)
        rows = clinic_worklist(clinic=clinic_a).rows
        with CaptureQueriesContext(connection) as queries:
            states = outreach_for(rows)
        counts.append(len(queries))
        assert len(states) == len(rows)
        assert all(state.reminder_failed for state in states.values())
    assert counts == [3, 3]
    with CaptureQueriesContext(connection) as queries:
        assert outreach_for([]) == {}
    assert len(queries) == 0


@pytest.mark.django_db
def test_patients_with_nothing_to_show_are_left_out(clock, enrol):
    # was the template test of the deleted {% outreach_for %} tag and |get filter
    patient = enrol()
    followup_link_ensure(patient=patient)
    other = enrol(baseline=False)
    rows = clinic_worklist(clinic=patient.clinic).rows
    states = outreach_for(rows)
    assert "Link: issued 22 Mar" in states[patient.study_id].invitation
    assert other.study_id not in states
    assert [row.study_id for row in rows] == sorted([patient.study_id, other.study_id])


@pytest.mark.django_db
def test_the_worklist_shows_the_column_in_words(client, clock, enrol, nurse_a, researcher):
    patient = enrol()
    invitation, _ = followup_link_ensure(patient=patient, by=nurse_a)
    invitation = invitation_draft_save(invitation=invitation, answers=full_answers())
    invitation_submit(invitation=invitation)
    send(patient, "window_open", status="failed", attempts=1)
    url = reverse("clinics:worklist", args=["A"])
    client.force_login(nurse_a)
    html = client.get(url).content.decode()
    assert '<th scope="col">Self-completion and reminders</th>' in html
    assert "Link: completed by the patient 22 Mar" in html
    assert '<strong class="outreach__flag">Awaiting your check</strong>' in html
    assert "Reminder failed, will retry (window opened, 1 attempt)" in html
    client.force_login(researcher)   # sees the worklist, cannot check: not "your" check
    html = client.get(url).content.decode()
    assert "Awaiting a nurse's check" in html and "Awaiting your check" not in html
