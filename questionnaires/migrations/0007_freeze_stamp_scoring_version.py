"""Every administration names the scoring version that produced its scores: rows without
one (none are expected: the save service and the import have always stamped it) get
"2026.1", the only version the project has had when this migration was written.

The value is written here, not imported from questionnaires.scoring: a database migrated
after a later bump still holds scores computed by 2026.1 (`manage.py rescore` then brings
them to the new version, with history). The stamp is metadata of the derived scores, not
clinical data: no history record is written for it.
"""
from django.db import migrations

VERSION_WHEN_WRITTEN = "2026.1"


def stamp(apps, schema_editor) -> None:
    Administration = apps.get_model("questionnaires", "Administration")
    Administration.objects.filter(scoring_version="").update(
        scoring_version=VERSION_WHEN_WRITTEN)


class Migration(migrations.Migration):

    dependencies = [
        ("questionnaires", "0006_freeze_cohort_snapshot"),
    ]

    operations = [migrations.RunPython(stamp, migrations.RunPython.noop, elidable=True)]
