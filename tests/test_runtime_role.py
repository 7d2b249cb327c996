"""The audit trail holds against the application's own database role (issue 15, item 3).

An owner role owns every table (as after `migrate` run as the owner); `grant_runtime_role`
grants the runtime role; then, as the runtime role (SET LOCAL ROLE on the test's
connection), every change to a history or log table other than INSERT is refused, while
the application's writes work. PostgreSQL only (skipped on SQLite, failed in CI).

The two roles are created inside the test's transaction with unique names: role names are
cluster-wide, and the rollback at the end of the test drops them with the ownership
changes and the grants, so nothing outlives the test.
"""
from __future__ import annotations

import datetime as dt
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from tests.services import require_postgresql

# Audit tables the migrations protect with a trigger (core 0002, 0003); the test also finds
# them in the catalogue, so a new one is covered without being listed here.
KNOWN_AUDIT = {"patients_patientaccesslog", "core_commandexportlog", "core_peoplechangelog",
               "core_adminlistreadlog",
               "patients_historicalpatient", "questionnaires_historicaladministration",
               "clinics_historicalclinic"}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _execute(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def _give_tables_to(owner: str) -> None:
    """What `REASSIGN OWNED` does on an installation: the owner role owns every table."""
    for name, kind in _execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
            "AND c.relkind IN ('r', 'p', 'v', 'S') "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid "
            "AND d.deptype IN ('a', 'i') AND c.relkind = 'S')"):
        what = {"v": "VIEW", "S": "SEQUENCE"}.get(kind, "TABLE")
        _execute(f"ALTER {what} {_quote(name)} OWNER TO {_quote(owner)}")


@pytest.fixture
def roles(db):
    """(owner, runtime): the owner owns the test database's tables, the runtime role is
    granted by the command, run as the owner."""
    require_postgresql("needs PostgreSQL (database roles)")
    suffix = uuid.uuid4().hex[:10]
    owner, runtime = f"pc_test_owner_{suffix}", f"pc_test_runtime_{suffix}"
    _execute(f"CREATE ROLE {owner} NOLOGIN")
    _execute(f"CREATE ROLE {runtime} NOLOGIN")
    _give_tables_to(owner)
    # As the database's owner has on an installation (PostgreSQL 15: pg_database_owner).
    schema = _execute("SELECT quote_ident(current_schema())")[0][0]
    _execute(f"GRANT CREATE ON SCHEMA {schema} TO {owner}")
    _execute(f"SET LOCAL ROLE {owner}")
    out = StringIO()
    call_command("grant_runtime_role", runtime, stdout=out)
    _execute("RESET ROLE")
    return owner, runtime, out.getvalue()


def _audit_tables() -> list[str]:
    rows = _execute("SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c "
                    "ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND t.tgname = 'audit_refuse_change'")
    return sorted(name for (name,) in rows)


def _refused(sql: str) -> bool:
    """True when PostgreSQL refuses `sql` for lack of privilege (or ownership)."""
    try:
        with transaction.atomic():  # a savepoint: the role set outside it stays
            _execute(sql)
    except DatabaseError as error:
        return getattr(error.__cause__, "pgcode", None) == "42501"
    return False


def _first_column(table: str) -> str:
    return _execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                    "current_schema() AND table_name = %s ORDER BY ordinal_position LIMIT 1",
                    [table])[0][0]


def test_every_audit_table_refuses_the_runtime_role_all_but_insert(roles):
    owner, runtime, _ = roles
    audit = _audit_tables()
    assert KNOWN_AUDIT <= set(audit)
    _execute(f"SET LOCAL ROLE {runtime}")
    for table in audit:
        column, quoted = _quote(_first_column(table)), _quote(table)
        assert _refused(f"UPDATE {quoted} SET {column} = {column}"), table
        assert _refused(f"DELETE FROM {quoted}"), table
        assert _refused(f"TRUNCATE {quoted}"), table
        assert _refused(f"ALTER TABLE {quoted} DISABLE TRIGGER audit_refuse_change"), table
        assert _refused(f"ALTER TABLE {quoted} DISABLE TRIGGER ALL"), table
        assert _refused(f"DROP TABLE {quoted}"), table
    # Not even by taking the table over or raising its own rights.
    assert _refused(f"ALTER TABLE patients_patientaccesslog OWNER TO {runtime}")
    # A GRANT without the grant option only warns ("no privileges were granted").
    _execute(f"GRANT UPDATE ON patients_patientaccesslog TO {runtime}")
    assert _refused("UPDATE patients_patientaccesslog SET path = path")


def test_the_application_works_as_the_runtime_role(roles, clinic_a, nurse_a):
    from clinics.models import Clinic
    from patients.models import PatientAccessLog
    from patients.services import patient_access_record, patient_update
    from tests.factories import enrol_patient, save_administration

    _, runtime, _ = roles
    _execute(f"SET LOCAL ROLE {runtime}")
    assert _execute("SELECT current_user")[0][0] == runtime
    # Enrolment, a questionnaire, a correction, a read logged: each writes a clinical table
    # and INSERTs into its history or log table.
    patient = enrol_patient(clinic=clinic_a, by=nurse_a, consented_on=dt.date(2026, 1, 5))
    save_administration(patient, by=nurse_a, timepoint="baseline", administered_on=None,
                        answers=None, complete=True)
    patient_update(patient=patient, by=nurse_a, reason="keying error", age=49)
    patient_access_record(patient=patient, user=nurse_a, path="/patients/1/")
    assert PatientAccessLog.objects.filter(patient=patient).count() == 1
    assert patient.history.count() == 2
    clinic = Clinic.objects.create(code="C", name="Clinic C")
    clinic.name = "Clinic C renamed"
    clinic.save()
    assert Clinic.objects.get(code="C").name == "Clinic C renamed"
    assert clinic.history.count() == 2
    # A clinical table: no TRUNCATE and no trigger games either.
    assert _refused("TRUNCATE clinics_clinic CASCADE")
    assert _refused("ALTER TABLE patients_patient DISABLE TRIGGER ALL")


def test_the_runtime_role_owns_nothing_and_the_grant_is_idempotent(roles):
    owner, runtime, report = roles
    assert "owns nothing" in report
    before = _execute("SELECT table_name, privilege_type FROM "
                      "information_schema.role_table_grants WHERE grantee = %s "
                      "ORDER BY 1, 2", [runtime])
    _execute(f"SET LOCAL ROLE {owner}")
    call_command("grant_runtime_role", runtime, stdout=StringIO())
    _execute("RESET ROLE")
    after = _execute("SELECT table_name, privilege_type FROM "
                     "information_schema.role_table_grants WHERE grantee = %s "
                     "ORDER BY 1, 2", [runtime])
    assert before == after
    privileges = {(table, kind) for table, kind in after}
    assert ("patients_patient", "UPDATE") in privileges
    assert ("patients_patientaccesslog", "INSERT") in privileges
    assert ("patients_patientaccesslog", "UPDATE") not in privileges
    assert not any(kind == "TRUNCATE" for _, kind in privileges)
    owned = _execute("SELECT count(*) FROM pg_class WHERE relowner = "
                     "(SELECT oid FROM pg_roles WHERE rolname = %s)", [runtime])[0][0]
    assert owned == 0


def test_a_table_created_later_is_add_only_until_the_next_grant(roles):
    owner, runtime, _ = roles
    _execute(f"SET LOCAL ROLE {owner}")
    _execute("CREATE TABLE pc_test_later (id integer)")
    _execute(f"SET LOCAL ROLE {runtime}")
    _execute("INSERT INTO pc_test_later VALUES (1)")
    assert _refused("UPDATE pc_test_later SET id = 2")
    assert _refused("DELETE FROM pc_test_later")


def test_the_command_refuses_a_superuser_an_owner_or_a_stranger(roles):
    owner, runtime, _ = roles
    superuser = _execute("SELECT session_user")[0][0]  # the test database's superuser
    _execute(f"SET LOCAL ROLE {owner}")
    with pytest.raises(CommandError, match="superuser"):
        call_command("grant_runtime_role", superuser, stdout=StringIO())
    with pytest.raises(CommandError, match="running this command"):
        call_command("grant_runtime_role", owner, stdout=StringIO())
    with pytest.raises(CommandError, match="no role"):
        call_command("grant_runtime_role", f"{runtime}_missing", stdout=StringIO())
    _execute("RESET ROLE")
    with pytest.raises(CommandError, match="owns"):
        call_command("grant_runtime_role", owner, stdout=StringIO())
    # Run by a role that does not own the tables: it could not grant on them.
    _execute(f"CREATE ROLE {runtime}_other NOLOGIN")
    _execute(f"SET LOCAL ROLE {runtime}")
    with pytest.raises(CommandError, match="not owned by"):
        call_command("grant_runtime_role", f"{runtime}_other", stdout=StringIO())


@pytest.mark.django_db
def test_the_command_refuses_on_sqlite():
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite refusal")
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("grant_runtime_role", "paincohort_app")
