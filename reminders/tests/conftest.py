"""A patient with a baseline on a fixed day, a fake clock, and the follow-up link faked
where the self-completion app is not the subject of the test."""
from __future__ import annotations

import pytest
import time_machine

from reminders.links import ReminderLinks
from tests.factories import enrol_patient, save_administration

from .dates import ADDRESS, BASELINE_ON, noon


@pytest.fixture
def clock():
    """The fake clock, at noon on the baseline day; move it with clock.move_to(noon(day))."""
    with time_machine.travel(noon(BASELINE_ON), tick=False) as traveller:
        yield traveller


@pytest.fixture
def patient(clock, clinic_a, nurse_a):
    patient = enrol_patient(clinic=clinic_a, by=nurse_a, consented_on=BASELINE_ON)
    save_administration(patient, by=nurse_a, administered_on=BASELINE_ON)
    return patient


@pytest.fixture
def contact(patient, nurse_a):
    from reminders.services import contact_record

    return contact_record(patient=patient, email=ADDRESS, consented_on=BASELINE_ON, by=nurse_a)


@pytest.fixture
def fake_links(monkeypatch):
    """The self-completion link, faked: the patient ids it was asked for are recorded."""
    asked: list[int] = []

    def links(patient):
        asked.append(patient.pk)
        return ReminderLinks(questionnaire=f"https://study.example/p/token-{patient.pk}/",
                             stop=f"https://study.example/reminders/stop/token-{patient.pk}/")

    monkeypatch.setattr("reminders.services.reminder_links", links)
    return asked
