from django.apps import AppConfig


class RemindersConfig(AppConfig):
    """Follow-up reminders by email, with the address held encrypted apart from the data."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "reminders"
    verbose_name = "follow-up reminders"

    def ready(self) -> None:
        # A withdrawal or a completed follow-up erases the address in the same transaction
        # (core's data-changed signal names the patient; bulk changes wait for the sweep).
        from core.signals import clinical_data_changed

        from .services import contacts_erase_closed

        def erase_if_closed(sender, *, patient_id: int | None = None, **kwargs) -> None:
            if patient_id is not None:
                contacts_erase_closed(patient_id=patient_id)

        clinical_data_changed.connect(erase_if_closed, weak=False,
                                      dispatch_uid="reminders.erase_if_closed")
