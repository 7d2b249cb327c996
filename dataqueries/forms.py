"""The query forms: raise (prefilled from a data-quality row), answer, close, re-open.
They parse input; the services check the state and have the last word."""
from __future__ import annotations

import uuid

from django import forms

from core.forms import AccessibleFormMixin
from questionnaires.models import Timepoint

from .models import QuerySource, QueryStatus, administration_fields, patient_fields


def _item_choices() -> list:
    return [("", "None: the whole questionnaire or patient"),
            ("On the questionnaire", list(administration_fields().items())),
            ("On the patient", list(patient_fields().items()))]


class QueryRaiseForm(AccessibleFormMixin, forms.Form):
    study_id = forms.CharField(label="Study ID", max_length=20,
                               help_text="The patient the query is about, e.g. A-017.")
    timepoint = forms.ChoiceField(
        label="Questionnaire", required=False,
        choices=[("", "None: the query is on the patient"), *Timepoint.choices])
    item = forms.ChoiceField(label="Field or item", required=False, choices=_item_choices,
                             help_text="Optional: the one field, item or score in doubt.")
    text = forms.CharField(label="Query for the clinic", max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 4}),
                           help_text="What looks wrong, and what the clinic should check.")
    source = forms.ChoiceField(choices=QuerySource.choices, initial=QuerySource.MANUAL,
                               widget=forms.HiddenInput)
    # A new key per form shown: the service raises one query per key (double clicks).
    raise_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4, required=False)

    def clean_study_id(self) -> str:
        return self.cleaned_data["study_id"].strip().upper()


class QueryAnswerForm(AccessibleFormMixin, forms.Form):
    text = forms.CharField(label="Your answer", max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 4}),
                           help_text="What you found. If the entry was wrong, correct it "
                                     "first (the entry page asks for a reason), then say so.")


class QueryCloseForm(AccessibleFormMixin, forms.Form):
    outcome = forms.ChoiceField(
        label="Close as", widget=forms.RadioSelect,
        choices=[(QueryStatus.RESOLVED, "Resolved: the data were corrected or confirmed"),
                 (QueryStatus.ACCEPTED, "Explained and accepted: the data stand as they are "
                                        "(the row leaves its data-quality list)")])
    reason = forms.CharField(label="Reason", max_length=2000, required=False,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="Required when explained and accepted; kept with "
                                       "the query.")


class QueryReopenForm(AccessibleFormMixin, forms.Form):
    text = forms.CharField(label="What should the clinic look at again?", max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 3}))
