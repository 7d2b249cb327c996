from django.apps import AppConfig


class SelfCompletionConfig(AppConfig):
    """Patients completing their own questionnaires: the clinic tablet and the one-time link."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "selfcompletion"
    verbose_name = "patient self-completion"

    def ready(self) -> None:
        # A withdrawal erases the patient's unsent link and tablet answers in the same
        # transaction (core's data-changed signal names the patient), as reminders erase
        # the address. Kept apart (services.erase_link_drafts) for a later named event.
        from core.signals import clinical_data_changed

        from .services import erase_link_drafts

        def erase_if_withdrawn(sender, *, patient_id: int | None = None, **kwargs) -> None:
            if patient_id is not None:
                erase_link_drafts(patient_id)

        clinical_data_changed.connect(erase_if_withdrawn, weak=False,
                                      dispatch_uid="selfcompletion.erase_if_withdrawn")
