"""The audit trail the database protects (PostgreSQL): history tables, the patient access
log and the command export log take new rows and refuse UPDATE and DELETE; the command's
export is logged with the operating-system user."""
from __future__ import annotations

import getpass
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from core.models import CommandExportLog
from patients.models import Patient, PatientAccessLog
from patients.services import patient_access_record

pytestmark = pytest.mark.django_db


def _audit_tables() -> set[str]:
    tables = {model._meta.db_table for model in apps.get_models()
              if model.__name__.startswith("Historical")}
    return tables | {PatientAccessLog._meta.db_table, CommandExportLog._meta.db_table}


def _refused(sql: str, params: list) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as error:
        assert "audit trail" in str(error)
        return True
    return False


def test_every_audit_table_has_the_trigger(postgres_only):
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT event_object_table FROM information_schema.triggers "
                       "WHERE trigger_name = 'audit_refuse_change' "
                       "AND event_manipulation IN ('UPDATE', 'DELETE')")
        protected = {name for (name,) in cursor.fetchall()}
    assert len(_audit_tables()) >= 8
    assert _audit_tables() <= protected


def test_history_rows_are_added_never_changed_or_removed(postgres_only, make_patient,
                                                         nurse_a):
    patient = make_patient()
    table = Patient.history.model._meta.db_table
    row = Patient.history.get(id=patient.pk)
    assert _refused(f"UPDATE {table} SET age = 99 WHERE history_id = %s", [row.history_id])
    assert _refused(f"DELETE FROM {table} WHERE history_id = %s", [row.history_id])
    assert _refused(f"UPDATE {table} SET history_user_id = NULL", [])
    patient.age = 50
    patient._change_reason = "correction"
    patient.save()  # a change adds a history row: INSERT works
    assert list(Patient.history.filter(id=patient.pk).values_list("age", flat=True)) == [
        50, 48]


def test_access_log_rows_are_never_changed_or_removed(postgres_only, make_patient, nurse_a):
    log = patient_access_record(patient=make_patient(), user=nurse_a, path="/p/")
    assert _refused("UPDATE patients_patientaccesslog SET path = 'x' WHERE id = %s", [log.pk])
    assert _refused("DELETE FROM patients_patientaccesslog WHERE id = %s", [log.pk])
    assert PatientAccessLog.objects.filter(pk=log.pk, path="/p/").exists()


def test_export_cohort_is_logged_with_the_operating_system_user(tmp_path, make_patient,
                                                                 make_administration):
    make_administration(make_patient())
    call_command("export_cohort", str(tmp_path / "c.csv"), "--include-drafts",
                 stdout=StringIO())
    call_command("export_cohort", "-", stdout=StringIO())
    logs = list(CommandExportLog.objects.order_by("pk").values_list(
        "os_user", "command", "file", "row_count", "options"))
    assert logs == [
        (getpass.getuser(), "export_cohort", str(tmp_path / "c.csv"), 1,
         {"include_withdrawn_excluded": False, "include_drafts": True, "completed": True}),
        (getpass.getuser(), "export_cohort", "-", 1,
         {"include_withdrawn_excluded": False, "include_drafts": False, "completed": True})]


def test_a_failed_export_is_logged_too(tmp_path):
    from django.core.management import CommandError
    with pytest.raises(CommandError):
        call_command("export_cohort", str(tmp_path / "missing" / "c.csv"), stdout=StringIO())
    assert CommandExportLog.objects.get().options["completed"] is False
