"""Two data managers close one query at the same moment, and one raise form is sent twice
at once, on a database that runs them in parallel (PostgreSQL: the row locks queue them)."""
from __future__ import annotations

import threading

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from dataqueries.models import Query, QueryMessage, QueryStatus
from tests.factories import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def _post_together(users, url: str, datas: list[dict]) -> list:
    barrier = threading.Barrier(len(users))
    responses: list = [None] * len(users)

    def run(index: int) -> None:
        client = Client()
        client.force_login(users[index])
        barrier.wait()
        try:
            responses[index] = client.post(url, datas[index])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(users))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses


def test_two_data_managers_closing_one_query_one_wins_the_other_is_told(
        postgres_only, query, data_manager, clinic_b):
    other = make_user("manager_2", [clinic_b], "data_manager")
    url = reverse("dataqueries:close", kwargs={"query_id": query.pk})
    responses = _post_together(
        [data_manager, other], url,
        [{"close-outcome": "resolved"},
         {"close-outcome": "accepted", "close-reason": "As on paper."}])
    assert sorted(r.status_code for r in responses) == [200, 302]
    loser = next(r for r in responses if r.status_code == 200)
    assert "already closed" in loser.content.decode()
    closes = QueryMessage.objects.filter(query=query).exclude(action="raised")
    assert closes.count() == 1
    query.refresh_from_db()
    winner = responses.index(next(r for r in responses if r.status_code == 302))
    assert query.status == [QueryStatus.RESOLVED, QueryStatus.ACCEPTED][winner]
    assert Query.history.filter(id=query.pk).count() == 2  # raised, closed once


def test_one_raise_form_sent_twice_at_once_raises_one_query(postgres_only, baseline,
                                                            data_manager):
    data = {"study_id": "A-001", "timepoint": "baseline", "item": "", "text": "Check.",
            "source": "manual", "raise_key": "6f1c2d3e-0000-4000-8000-0000000000ad"}
    responses = _post_together([data_manager, data_manager], reverse("dataqueries:raise"),
                               [data, data])
    assert [r.status_code for r in responses] == [302, 302]
    assert Query.objects.count() == 1
    assert QueryMessage.objects.count() == 1
