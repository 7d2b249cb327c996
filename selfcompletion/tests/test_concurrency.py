"""Two devices submitting the same link at the same moment, on a database that really runs
them in parallel (PostgreSQL: the invitation row lock serialises them)."""
from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from questionnaires.models import Administration
from questionnaires.services import administration_save
from selfcompletion import services
from selfcompletion.models import Invitation
from selfcompletion.services import invitation_draft_save

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration,
              pytest.mark.usefixtures("postgres_only")]


def _post_together(url: str, devices: int) -> list[int]:
    barrier = threading.Barrier(devices)
    statuses = [0] * devices

    def run(index: int) -> None:
        client = Client(REMOTE_ADDR=f"192.0.2.{index + 1}")
        barrier.wait()
        try:
            statuses[index] = client.post(url).status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(devices)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def test_two_devices_submitting_one_link_make_one_administration(link, every_answer,
                                                                 monkeypatch):
    invitation, token = link
    invitation_draft_save(invitation=invitation, answers=every_answer)
    # The invitation lock, not only the data-entry service's double-click check: the
    # second device must find the link used before it reaches the service at all.
    saves = []

    def counted_save(**kwargs):
        saves.append(kwargs["patient"].pk)
        return administration_save(**kwargs)

    monkeypatch.setattr(services, "administration_save", counted_save)
    statuses = _post_together(reverse("selfcompletion:link_review", args=[token]), 2)
    assert all(status in (200, 302) for status in statuses) and 302 in statuses
    administration = Administration.objects.get(timepoint="followup")
    assert administration.history.count() == 1
    assert Invitation.objects.get().administration_id == administration.pk
    assert len(saves) == 1
