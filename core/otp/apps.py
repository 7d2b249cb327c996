from django.apps import AppConfig


class TwoFactorConfig(AppConfig):
    """An app only so that its admin module is found (it hides django-otp's own pages)."""

    name = "core.otp"
    label = "two_factor"
    verbose_name = "Two-factor sign-in"
