from django.apps import AppConfig


class QuestionnairesConfig(AppConfig):
    name = "questionnaires"
    verbose_name = "Questionnaires"

    def ready(self) -> None:
        # Sign-off's checks that need questionnaires (patients.signoff's blockers).
        from . import record_checks  # noqa: F401
