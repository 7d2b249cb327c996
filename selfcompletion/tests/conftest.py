"""Fixtures for self-completion: a patient inside the follow-up window, a link to them."""
from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone

from tests.factories import full_answers


@pytest.fixture(autouse=True)
def _empty_cache():
    # The lookup rate limit counts in the cache: each test starts with no failures.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def due_patient(make_patient, make_administration):
    """A patient whose baseline was 100 days ago: inside the 76-120 day window today."""
    patient = make_patient(consented_on=timezone.localdate() - dt.timedelta(days=100))
    make_administration(patient)
    return patient


@pytest.fixture
def link(due_patient, nurse_a):
    """(invitation, raw token) of the patient's follow-up link."""
    from selfcompletion.services import followup_link_ensure

    invitation, path = followup_link_ensure(patient=due_patient, by=nurse_a)
    return invitation, path.strip("/").split("/")[-1]


@pytest.fixture
def every_answer():
    return full_answers(bpi=3, ppic=5, pih=7)
