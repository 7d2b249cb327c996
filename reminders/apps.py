from django.apps import AppConfig


class RemindersConfig(AppConfig):
    """Follow-up reminders by email, with the address held encrypted apart from the data."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "reminders"
    verbose_name = "follow-up reminders"

    def ready(self) -> None:
        # A withdrawal or a completed follow-up erases the address in the same transaction
        # (core's followup_closed event; bulk imports wait for the hourly sweep).
        from core.signals import patient_followup_closed

        from .services import contacts_erase_closed

        def erase_on_close(sender, *, patient, reason: str, **kwargs) -> None:
            contacts_erase_closed(patient_id=patient.pk)

        patient_followup_closed.connect(erase_on_close, weak=False,
                                        dispatch_uid="reminders.erase_on_close")
