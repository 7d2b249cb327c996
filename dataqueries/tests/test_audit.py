"""The queries' audit tables refuse UPDATE and DELETE on PostgreSQL, as the other audit
tables do; the admin shows queries read-only."""
from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from dataqueries.models import Query, QueryMessage

pytestmark = pytest.mark.django_db


def _refused(sql: str, params: list) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as error:
        assert "audit trail" in str(error)
        return True
    return False


def test_the_thread_and_the_history_are_never_changed_or_removed(postgres_only, query):
    message = QueryMessage.objects.get(query=query)
    table = QueryMessage._meta.db_table
    assert _refused(f"UPDATE {table} SET text = 'x' WHERE id = %s", [message.pk])
    assert _refused(f"DELETE FROM {table} WHERE id = %s", [message.pk])
    history = Query.history.model._meta.db_table
    assert _refused(f"UPDATE {history} SET text = 'x'", [])
    assert _refused(f"DELETE FROM {history}", [])


def test_the_admin_shows_a_query_and_changes_nothing(client, manager, query):
    client.force_login(manager)
    url = reverse("admin:dataqueries_query_change", args=[query.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "Worst pain is empty" in page.content.decode()
    assert client.post(url, {"text": "changed", "status": "accepted"}).status_code == 403
    assert Query.objects.get(pk=query.pk).text == "Worst pain is empty: please check."
