"""The unlock form: a signed-off record opens again only with a reason."""
from __future__ import annotations

from django import forms

from core.forms import AccessibleFormMixin


class UnlockForm(AccessibleFormMixin, forms.Form):
    reason = forms.CharField(
        label="Reason for unlocking", max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Goes to the audit trail, e.g. 'query 12: pain sites keyed as 3, paper says 2'.",
        error_messages={"required": "Give the reason for unlocking the record."})
