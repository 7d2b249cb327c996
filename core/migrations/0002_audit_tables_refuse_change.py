"""On PostgreSQL the audit tables refuse UPDATE and DELETE: every history table of
django-simple-history (`<app>_historical<model>`), the patient access log and the command
export log. A row trigger raises, whatever the role; INSERT (new history) still works.
TRUNCATE (the test database's flush) fires no row trigger. SQLite: nothing (the embedded
default keeps its file on the study's own machine).

The tables are found by name when the migration runs, so it depends on the migrations
that create them; a later history table needs the same trigger (tested over every model).
"""
from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION paincohort_audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit trail: % on % is not allowed (rows are only ever added)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

PROTECT = """
DO $$
DECLARE audit_table text;
BEGIN
    FOR audit_table IN
        SELECT table_name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
          AND (table_name LIKE '%\\_historical%'
               OR table_name IN ('patients_patientaccesslog', 'core_commandexportlog'))
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS audit_refuse_change ON %I', audit_table);
        EXECUTE format('CREATE TRIGGER audit_refuse_change BEFORE UPDATE OR DELETE ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION paincohort_audit_refuse_change()',
                       audit_table);
    END LOOP;
END;
$$;
"""

UNPROTECT = """
DO $$
DECLARE audit_table text;
BEGIN
    FOR audit_table IN
        SELECT DISTINCT event_object_table FROM information_schema.triggers
        WHERE trigger_name = 'audit_refuse_change'
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS audit_refuse_change ON %I', audit_table);
    END LOOP;
END;
$$;
DROP FUNCTION IF EXISTS paincohort_audit_refuse_change();
"""


def _run(schema_editor, *statements: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)  # no parameters: the % of the SQL are not placeholders


def protect(apps, schema_editor) -> None:
    _run(schema_editor, FUNCTION, PROTECT)


def unprotect(apps, schema_editor) -> None:
    _run(schema_editor, UNPROTECT)


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0001_command_export_log"),
        # Every migration that creates a history or audit table.
        ("clinics", "0001_initial"),
        ("patients", "0004_study_id_rule_no_trailing_newline"),
        ("questionnaires", "0001_initial"),
        ("analysis", "0001_initial"),
    ]

    operations = [migrations.RunPython(protect, unprotect, elidable=False)]
