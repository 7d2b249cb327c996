"""Cohort snapshots: the frozen cohort CSV of a dataset freeze, rows only ever added
(on PostgreSQL a trigger refuses UPDATE and DELETE, as on the audit tables)."""

from django.db import migrations, models


TABLE = "questionnaires_cohortsnapshot"


def protect(apps, schema_editor) -> None:
    # paincohort_audit_refuse_change() is core 0002's: the same trigger name makes
    # grant_runtime_role give the runtime role SELECT and INSERT only on this table.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE TRIGGER audit_refuse_change BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION paincohort_audit_refuse_change()")


def unprotect(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS audit_refuse_change ON {TABLE}")


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0002_audit_tables_refuse_change'),
        ('questionnaires', '0005_lock_verified_keying'),
    ]

    operations = [
        migrations.CreateModel(
            name='CohortSnapshot',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('label', models.CharField(help_text="What the freeze is for, e.g. 'Paper 1 analysis'.", max_length=200, verbose_name='label')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='frozen at')),
                ('created_by', models.CharField(blank=True, help_text='User name (or operating-system user of the command); text, so the row never changes.', max_length=150, verbose_name='frozen by')),
                ('data', models.BinaryField(verbose_name='cohort CSV')),
                ('sha256', models.CharField(db_index=True, max_length=64, verbose_name='SHA-256 of the cohort CSV')),
                ('row_count', models.PositiveIntegerField(verbose_name='rows')),
            ],
            options={
                'verbose_name': 'cohort snapshot',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.RunPython(protect, unprotect, elidable=False),
    ]
