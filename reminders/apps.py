from django.apps import AppConfig


class RemindersConfig(AppConfig):
    """Follow-up reminders by email, with the address held encrypted apart from the data."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "reminders"
    verbose_name = "follow-up reminders"
