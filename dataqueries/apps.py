from django.apps import AppConfig


class DataQueriesConfig(AppConfig):
    """Queries (discrepancy notes): a data manager asks a clinic about a patient's data, the
    clinic's nurses answer, the data manager closes."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "dataqueries"
    verbose_name = "data queries"

    def ready(self) -> None:
        # Sign-off's check that needs queries (patients.signoff's blockers).
        from . import signoff_checks  # noqa: F401
