from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares; imports no other project app (the bottom layer)."""

    name = "core"
    verbose_name = "Shared building blocks"
