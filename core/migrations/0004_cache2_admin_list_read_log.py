"""The admin list pages' read log; on PostgreSQL it refuses UPDATE and DELETE like the other
audit tables (the trigger function of 0002_audit_tables_refuse_change)."""
from django.db import migrations, models

TABLE = "core_adminlistreadlog"


def protect(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS audit_refuse_change ON {TABLE}")
        cursor.execute(f"CREATE TRIGGER audit_refuse_change BEFORE UPDATE OR DELETE ON {TABLE} "
                       "FOR EACH ROW EXECUTE FUNCTION paincohort_audit_refuse_change()")


def unprotect(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS audit_refuse_change ON {TABLE}")


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0003_signin_people_change_log"),
    ]

    operations = [
        migrations.CreateModel(
            name="AdminListReadLog",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("username", models.CharField(db_index=True, max_length=150,
                                              verbose_name="user")),
                ("path", models.CharField(max_length=300, verbose_name="page")),
                ("study_ids", models.JSONField(default=list, verbose_name="study IDs shown")),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True,
                                                    verbose_name="when")),
            ],
            options={"verbose_name": "admin list read", "ordering": ["-created_at", "-pk"]},
        ),
        migrations.RunPython(protect, unprotect, elidable=False),
    ]
