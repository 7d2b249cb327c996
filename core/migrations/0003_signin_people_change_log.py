"""The People page's audit table; on PostgreSQL it refuses UPDATE and DELETE like the other
audit tables (the trigger function of 0002_audit_tables_refuse_change)."""
from django.db import migrations, models

TABLE = "core_peoplechangelog"


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
        ("core", "0002_audit_tables_refuse_change"),
    ]

    operations = [
        migrations.CreateModel(
            name="PeopleChangeLog",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("by_username", models.CharField(max_length=150, verbose_name="by")),
                ("username", models.CharField(db_index=True, max_length=150,
                                              verbose_name="user")),
                ("action", models.CharField(max_length=40, verbose_name="action")),
                ("detail", models.CharField(blank=True, max_length=300, verbose_name="detail")),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True,
                                                    verbose_name="when")),
            ],
            options={"verbose_name": "change to a user", "ordering": ["-created_at", "-pk"]},
        ),
        migrations.RunPython(protect, unprotect),
    ]
