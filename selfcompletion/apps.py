from django.apps import AppConfig


class SelfCompletionConfig(AppConfig):
    """Patients completing their own questionnaires: the clinic tablet and the one-time link."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "selfcompletion"
    verbose_name = "patient self-completion"

    def ready(self) -> None:
        # A withdrawal erases the patient's unsent link and tablet answers in the same
        # transaction (core's followup_closed event, reason withdrawn), as reminders erase
        # the address.
        from core.signals import WITHDRAWN, patient_followup_closed

        from .services import erase_link_drafts

        def erase_if_withdrawn(sender, *, patient, reason: str, **kwargs) -> None:
            if reason == WITHDRAWN:
                erase_link_drafts(patient)

        patient_followup_closed.connect(erase_if_withdrawn, weak=False,
                                        dispatch_uid="selfcompletion.erase_if_withdrawn")
