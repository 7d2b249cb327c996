"""The patient record's self-completion actions read the latest link from here (the record
page is drawn by questionnaires, a layer below this app, so its view cannot)."""
from django import template

from ..selectors import latest_followup_link

register = template.Library()


@register.simple_tag
def followup_link(patient):
    """The patient's most recent follow-up link invitation, or None."""
    return latest_followup_link(patient)
