"""The queries' audit tables (the query history and the message thread) refuse UPDATE and
DELETE on PostgreSQL, like the other audit tables (the trigger function of
core/migrations/0002_audit_tables_refuse_change)."""
from django.db import migrations

TABLES = ("dataqueries_historicalquery", "dataqueries_querymessage")


def protect(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"DROP TRIGGER IF EXISTS audit_refuse_change ON {table}")
            cursor.execute(f"CREATE TRIGGER audit_refuse_change BEFORE UPDATE OR DELETE ON "
                           f"{table} FOR EACH ROW EXECUTE FUNCTION "
                           "paincohort_audit_refuse_change()")


def unprotect(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"DROP TRIGGER IF EXISTS audit_refuse_change ON {table}")


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0002_audit_tables_refuse_change"),
        ("dataqueries", "0001_queries_initial"),
    ]

    operations = [migrations.RunPython(protect, unprotect, elidable=False)]
