"""Forms for enrolment, characteristics, withdrawal and loss to follow-up.

Forms only parse and check input; the services do the writing and have the last word
(their ValidationErrors are shown on the form by `add_service_errors`).
"""
from __future__ import annotations

import datetime as dt
import re
import uuid

from django import forms
from django.core.exceptions import ValidationError

from .models import Education, Ethnicity, Gender, LostReason, Patient

STUDY_ID_PATTERN = re.compile(r"^[A-Z0-9]{1,10}-[0-9]{1,6}$")


class AccessibleFormMixin:
    """Bootstrap classes, and hint/error ids wired to each input with aria-describedby."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            widget = field.widget
            input_type = getattr(widget, "input_type", "")
            if input_type == "checkbox":
                css = "form-check-input"
            elif input_type == "radio":
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs.setdefault("class", css)
            self._describe(name)

    def _describe(self, name: str) -> None:
        field = self.fields[name]
        bound = self[name]
        ids = []
        if field.help_text:
            ids.append(f"{bound.auto_id}_hint")
        if self.is_bound and self._errors is not None and name in self._errors:
            ids.append(f"{bound.auto_id}_error")
            field.widget.attrs["aria-invalid"] = "true"
        if ids:
            field.widget.attrs["aria-describedby"] = " ".join(ids)

    def full_clean(self):
        super().full_clean()
        for name in self.fields:
            self._describe(name)

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.fields:
            self._describe(name)


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: beside its field, or at the top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def _not_in_future(value: dt.date) -> None:
    if value > dt.date.today():
        raise ValidationError("The date cannot be in the future.")


def _blank_choice(choices) -> list[tuple[str, str]]:
    return [("", "Not recorded"), *choices]


class CharacteristicsFields(forms.Form):
    """Baseline characteristics from the clinical record (all optional, as in the model)."""

    age = forms.IntegerField(label="Age at baseline (years)", min_value=18, max_value=110,
                             required=False, help_text="Whole years, 18 to 110.")
    gender = forms.ChoiceField(label="Gender", choices=_blank_choice(Gender.choices),
                               required=False)
    ethnicity = forms.ChoiceField(label="Ethnicity", choices=_blank_choice(Ethnicity.choices),
                                  required=False)
    education = forms.ChoiceField(label="Education", choices=_blank_choice(Education.choices),
                                  required=False)
    pain_years = forms.IntegerField(label="Years of back pain", min_value=0, max_value=80,
                                    required=False, help_text="Whole years, 0 to 80.")
    pain_sites = forms.IntegerField(label="Number of pain sites", min_value=1, max_value=20,
                                    required=False, help_text="1 to 20.")

    CHARACTERISTICS = ("age", "gender", "ethnicity", "education", "pain_years", "pain_sites")

    def characteristics(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.CHARACTERISTICS}


class EnrolForm(AccessibleFormMixin, CharacteristicsFields):
    """Consent first, then the study ID, then baseline characteristics."""

    consent_given = forms.BooleanField(
        label="The patient has signed the consent form", required=True,
        error_messages={"required": "Confirm that the patient has signed the consent form."})
    consented_on = forms.DateField(label="Consent date", widget=DateInput(),
                                   validators=[_not_in_future],
                                   help_text="The date on the signed consent form.")
    consent_form_version = forms.CharField(label="Consent form version", max_length=20,
                                           help_text="As printed on the form, e.g. v1.0.")
    consent_taken_by = forms.CharField(label="Consent taken by", max_length=150,
                                       help_text="Name or role of the staff member.")
    # A new key per form shown: the service creates one patient per key.
    enrolment_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4, required=False)
    study_id = forms.CharField(
        label="Study ID", max_length=20, required=False,
        help_text="Leave empty to generate the next ID for this clinic; type it if the paper "
                  "form already carries one (e.g. A-017).")

    field_order = ["consent_given", "consented_on", "consent_form_version", "consent_taken_by",
                   "study_id", *CharacteristicsFields.CHARACTERISTICS]

    def __init__(self, *args, clinic_code: str, **kwargs):
        self.clinic_code = clinic_code
        super().__init__(*args, **kwargs)

    def clean_study_id(self) -> str:
        value = self.cleaned_data["study_id"].strip().upper()
        if not value:
            return ""
        if not STUDY_ID_PATTERN.match(value):
            raise ValidationError("Use the clinic code, a dash and a number, e.g. "
                                  f"{self.clinic_code}-017.")
        if value.split("-")[0] != self.clinic_code.upper():
            raise ValidationError(f"A study ID at this clinic starts with {self.clinic_code}-.")
        return value

    def clean(self):
        cleaned = super().clean()
        study_id, key = cleaned.get("study_id"), cleaned.get("enrolment_key")
        if not study_id:
            return cleaned
        in_use = Patient.objects.filter(study_id=study_id)
        if key is not None:  # not in use by the patient this very form created (a resend)
            in_use = in_use.exclude(enrolment_key=key)
        if in_use.exists():
            self.add_error("study_id", f"{study_id} is already in use.")
        return cleaned


class CharacteristicsForm(AccessibleFormMixin, CharacteristicsFields):
    reason = forms.CharField(label="Reason for the change", max_length=200,
                             help_text="For the audit trail, e.g. 'keying error'.")


class WithdrawForm(AccessibleFormMixin, forms.Form):
    withdrawn_on = forms.DateField(label="Date consent was withdrawn", widget=DateInput(),
                                   validators=[_not_in_future])
    keep_collected_data = forms.TypedChoiceField(
        label="Data already collected",
        choices=[("yes", "Keep it in the analysis"),
                 ("no", "Leave it out of every analysis and export")],
        coerce=lambda value: value == "yes", widget=forms.RadioSelect,
        error_messages={"required": "Choose whether the data already collected stays in "
                                    "the analysis."},
        help_text="As the patient asked on the withdrawal form.")
    reason = forms.CharField(label="Reason given", required=False, widget=forms.Textarea(
        attrs={"rows": 3}), help_text="Only if the patient gave one; no identifying details.")


class MarkLostForm(AccessibleFormMixin, forms.Form):
    lost_reason = forms.ChoiceField(
        label="Why is the patient lost to follow-up?",
        choices=[(LostReason.DID_NOT_ATTEND, LostReason.DID_NOT_ATTEND.label),
                 (LostReason.DISCHARGED, LostReason.DISCHARGED.label)],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose why the patient was lost to follow-up."})
    reason = forms.CharField(label="Note", required=False, max_length=200,
                             help_text="Optional, e.g. 'two missed appointments'. Data already "
                                       "collected stays in the analysis: consent stands.")
