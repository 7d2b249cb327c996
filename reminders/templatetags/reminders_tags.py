"""The reminders panel of the patient record (drawn for the clinic's nurses only)."""
from django import template

from patients.models import Patient

from ..selectors import contact_or_none, is_clinic_nurse, sends_for_patient

register = template.Library()


@register.inclusion_tag("reminders/_panel.html", takes_context=True)
def reminder_panel(context, patient: Patient) -> dict:
    request = context.get("request")
    if request is None or not is_clinic_nurse(user=request.user, clinic=patient.clinic):
        return {"shown": False}
    return {"shown": True, "patient": patient, "contact": contact_or_none(patient),
            "sends": list(sends_for_patient(patient)), "can_edit": context.get("can_edit"),
            "closed": context.get("withdrawal") is not None
            or context.get("status") is not None and context["status"].code == "completed"}
