from django.apps import AppConfig


class SelfCompletionConfig(AppConfig):
    """Patients completing their own questionnaires: the clinic tablet and the one-time link."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "selfcompletion"
    verbose_name = "patient self-completion"
