"""The nurse's form for a patient's reminder address."""
from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.forms import AccessibleFormMixin, DayMonthYearField


def _not_in_future(value: dt.date) -> None:
    if value > timezone.localdate():
        raise ValidationError("The date cannot be in the future.")


class ReminderContactForm(AccessibleFormMixin, forms.Form):
    email = forms.EmailField(
        label="Email address for reminders", max_length=254,
        help_text="Used only to send the follow-up link and reminders; erased when the "
                  "follow-up is done. Only this clinic's nurses can see it.")
    consented_on = DayMonthYearField(label="Date the patient agreed to email reminders",
                                     validators=[_not_in_future])
    agreed = forms.BooleanField(
        label="The patient agreed to receive reminders by email",
        error_messages={"required": "Record an address only if the patient agreed."})
