"""One save through the entry page reads each row once: the query count of a complete and
of a draft first entry, pinned, and the lock's refusals that the read-once path relies on."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from questionnaires.models import Administration
from questionnaires.services import lock_for_entry
from tests.factories import full_answers

from .entry_helpers import entry_data, entry_url

pytestmark = pytest.mark.django_db

# The request (the same on every page): 1 session, 2 user, 3 the user's roles,
# 4 the patient through the user's clinics, 5 may this user edit there, 6 the access log.
# The save, one transaction (the test's own transaction makes it a savepoint, +2 statements):
# 7 the patient row locked, with its withdrawal (one LEFT JOIN), 8 the administrations,
# read under the lock, the form validated against them and passed down to the service,
# [savepoint of the service's atomic] 9 INSERT administration, 10 INSERT its history row,
# (complete only: 11 the second-keying setting), 11/12 INSERT the refit request.
# After it: the success message in the session (UPDATE, in a savepoint).
# Not any more: the patient, withdrawal and administrations read a second time, and
# full_clean's existence checks of the patient and the enterer.
SAVEPOINTS = 2 + 2 + 2  # the view's atomic, the service's, the session save's


def _save_queries(client, patient, action: str) -> list[str]:
    data = entry_data(full_answers(), administered_on=patient.consented_on, action=action)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(entry_url(patient), data)
    assert response.status_code == 302
    return [query["sql"] for query in queries.captured_queries]


def _count_of(statements: list[str], table: str, verb: str = "SELECT") -> int:
    return sum(1 for sql in statements if sql.startswith(verb) and f'FROM "{table}"' in sql)


@pytest.mark.parametrize(("action", "expected"), [("complete", 13 + SAVEPOINTS),
                                                   ("draft", 12 + SAVEPOINTS)])
def test_one_first_entry_save_runs_a_fixed_number_of_queries(client, nurse_a, make_patient,
                                                             action, expected):
    client.force_login(nurse_a)
    patient = make_patient()
    statements = _save_queries(client, patient, action)
    assert len(statements) == expected, "\n".join(statements)
    assert Administration.objects.get(patient=patient).status == action


def test_a_save_reads_the_withdrawal_and_the_administrations_once(client, nurse_a, make_patient):
    client.force_login(nurse_a)
    statements = _save_queries(client, make_patient(), "complete")
    assert _count_of(statements, "questionnaires_administration") == 1
    assert _count_of(statements, "patients_withdrawal") == 0  # joined to the lock's query
    assert sum(1 for sql in statements if '"patients_withdrawal"' in sql) == 1


def test_lock_for_entry_refuses_to_run_outside_a_transaction(make_patient):
    patient = make_patient()
    with pytest.raises(RuntimeError, match="outside a transaction"):
        _outside_atomic(lambda: lock_for_entry(patient))


def _outside_atomic(call):
    """pytest-django's test transaction is an atomic block: step out of it for the call."""
    in_block, connection.in_atomic_block = connection.in_atomic_block, False
    try:
        return call()
    finally:
        connection.in_atomic_block = in_block


def test_lock_for_entry_names_the_patient_whose_row_is_gone(make_patient):
    patient = make_patient()
    Administration.objects.filter(patient=patient).delete()
    patient.delete()
    with transaction.atomic(), pytest.raises(ValidationError) as refused:
        lock_for_entry(patient)
    assert "no longer exists" in refused.value.message_dict["patient"][0]
    assert patient.study_id in refused.value.message_dict["patient"][0]
