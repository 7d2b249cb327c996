"""Forms of verified keying: settling the differences, and the study's setting. (The blind
second keying uses the entry form, questionnaires.forms.AdministrationForm, empty.)"""
from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from core.forms import AccessibleFormMixin

from .verification import FIELD_LABELS, shown_value
from .verification_models import KeyingDiscrepancy, KeyingSetting, Settled


class SettleForm(AccessibleFormMixin, forms.Form):
    """For each open difference: which keying the paper shows, and why."""

    def __init__(self, *args, discrepancies: list[KeyingDiscrepancy], **kwargs):
        super().__init__(*args, **kwargs)
        self.discrepancies = discrepancies
        for d in discrepancies:
            label = FIELD_LABELS.get(d.field, d.field)
            self.fields[f"choice_{d.field}"] = forms.ChoiceField(
                label=f"{label}: the paper shows", required=False, widget=forms.RadioSelect,
                choices=[(Settled.FIRST, f"{shown_value(d.field, d.first_value)} "
                                         "(first keying)"),
                         (Settled.SECOND, f"{shown_value(d.field, d.second_value)} "
                                          "(second keying)")])
            self.fields[f"reason_{d.field}"] = forms.CharField(
                label=f"{label}: reason", required=False, max_length=200,
                help_text="e.g. 'paper shows 4, clearly circled'.")
        # AccessibleFormMixin wired the fields present at its __init__; wire these too.
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("class", "form-check-input" if isinstance(
                field.widget, forms.RadioSelect) else "form-control")
            self._describe(name)

    def clean(self):
        cleaned = super().clean()
        chosen = 0
        for d in self.discrepancies:
            if cleaned.get(f"choice_{d.field}"):
                chosen += 1
                if not cleaned.get(f"reason_{d.field}", "").strip():
                    self.add_error(f"reason_{d.field}", "Give the reason for this value.")
        if not chosen:
            raise ValidationError("Choose, for at least one difference, the value on the "
                                  "paper.")
        return cleaned

    def decisions(self) -> dict[str, tuple[str, str]]:
        return {d.field: (self.cleaned_data[f"choice_{d.field}"],
                          self.cleaned_data[f"reason_{d.field}"])
                for d in self.discrepancies if self.cleaned_data.get(f"choice_{d.field}")}

    def rows(self):
        """(difference, its choice field, its reason field) for the side-by-side table."""
        return [(d, self[f"choice_{d.field}"], self[f"reason_{d.field}"])
                for d in self.discrepancies]


class KeyingSettingForm(AccessibleFormMixin, forms.ModelForm):
    class Meta:
        model = KeyingSetting
        fields = ["mode", "fraction", "seed"]
        widgets = {"mode": forms.RadioSelect}
