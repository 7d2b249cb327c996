"""The data manager's freeze form."""
from __future__ import annotations

from django import forms

from core.forms import AccessibleFormMixin

from .services import LABEL_REQUIRED


class FreezeForm(AccessibleFormMixin, forms.Form):
    label = forms.CharField(
        label="Label", max_length=200, strip=True,
        error_messages={"required": LABEL_REQUIRED},
        help_text="What the frozen dataset is for, e.g. 'Paper 1 analysis'. It is printed "
                  "with the freeze's date and fingerprint wherever the freeze is shown.")
