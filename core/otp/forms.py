"""The one field of the two-factor pages: a code."""
from __future__ import annotations

from django import forms

from core.forms import AccessibleFormMixin


class CodeForm(AccessibleFormMixin, forms.Form):
    code = forms.CharField(
        label="Code", max_length=32, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True,
                                      "spellcheck": "false", "autocapitalize": "off"}))

    def __init__(self, *args, hint: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].help_text = hint
        self._describe("code")
