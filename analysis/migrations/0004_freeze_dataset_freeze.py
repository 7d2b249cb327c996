"""Dataset freezes: codebook, versions and results of a frozen cohort, rows only ever
added (on PostgreSQL a trigger refuses UPDATE and DELETE, as on the audit tables)."""

import django.db.models.deletion
from django.db import migrations, models


TABLE = "analysis_datasetfreeze"


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
        ('analysis', '0003_refit_requests'),
        ('questionnaires', '0006_freeze_cohort_snapshot'),
    ]

    operations = [
        migrations.CreateModel(
            name='DatasetFreeze',
            fields=[
                ('snapshot', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, primary_key=True, related_name='freeze', serialize=False, to='questionnaires.cohortsnapshot', verbose_name='cohort snapshot')),
                ('codebook', models.BinaryField(verbose_name='codebook CSV')),
                ('codebook_sha256', models.CharField(max_length=64, verbose_name='SHA-256 of the codebook CSV')),
                ('scoring_version', models.CharField(max_length=20, verbose_name='scoring version')),
                ('versions', models.JSONField(default=dict, help_text="Python, Django, numpy, pandas, scipy, statsmodels, the project's git commit ('unknown' if none).", verbose_name='software versions')),
                ('options', models.JSONField(default=dict, verbose_name='analysis options')),
                ('results', models.JSONField(help_text="Tables as JSON, as a model run's (analysis/stats/results.py).", verbose_name='results')),
                ('timings', models.JSONField(blank=True, default=dict, verbose_name='timings (seconds)')),
            ],
            options={
                'verbose_name': 'dataset freeze',
                'ordering': ['-snapshot_id'],
            },
        ),
        migrations.RunPython(protect, unprotect, elidable=False),
    ]
