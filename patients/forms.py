"""Forms for enrolment, characteristics, withdrawal and loss to follow-up.

Forms only parse and check input; the services do the writing and have the last word
(their ValidationErrors are shown on the form by core.forms.add_service_errors). Labels,
ranges, categories and hints of the characteristics come from patients.characteristics,
the study-ID rule from the Patient.study_id field's validators.
"""
from __future__ import annotations

import datetime as dt
import uuid

from crispy_forms.layout import Div, Layout
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.forms import AccessibleFormMixin, DayMonthYearField, section

from .characteristics import CHARACTERISTIC_CODES, CHARACTERISTICS
from .models import LostReason, Patient
from .validators import validate_study_id_clinic

STUDY_ID_VALIDATORS = Patient._meta.get_field("study_id").validators


def _not_in_future(value: dt.date) -> None:
    if value > timezone.localdate():
        raise ValidationError("The date cannot be in the future.")


def characteristics_grid() -> Div:
    return Div(*CHARACTERISTIC_CODES, css_class="field-grid")


class CharacteristicsModelForm(AccessibleFormMixin, forms.ModelForm):
    """Baseline characteristics from the clinical record (all optional, as in the model)."""

    class Meta:
        model = Patient
        fields = CHARACTERISTIC_CODES
        help_texts = {c.code: c.hint for c in CHARACTERISTICS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for characteristic in CHARACTERISTICS:
            field = self.fields[characteristic.code]
            if characteristic.is_number:
                # The study's range, checked and shown on the input (not just "positive").
                field.min_value, field.max_value = characteristic.minimum, characteristic.maximum
                field.validators = characteristic.validators()
                field.widget.attrs.update(min=characteristic.minimum,
                                          max=characteristic.maximum)
            else:
                field.choices = [("", "Not recorded"), *characteristic.choices]

    def characteristics(self) -> dict:
        return {code: self.cleaned_data[code] for code in CHARACTERISTIC_CODES}


class EnrolForm(CharacteristicsModelForm):
    """Consent first, then the study ID, then baseline characteristics."""

    consent_given = forms.BooleanField(
        label="The patient has signed the consent form", required=True,
        error_messages={"required": "Confirm that the patient has signed the consent form."})
    # A new key per form shown: the service creates one patient per key.
    enrolment_key = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4, required=False)
    # Not the model field: the uniqueness check must let a resend of this form through.
    study_id = forms.CharField(
        label="Study ID", max_length=20, required=False,
        help_text="Leave empty to generate the next ID for this clinic; type it if the paper "
                  "form already carries one (e.g. A-017).")

    class Meta(CharacteristicsModelForm.Meta):
        fields = ("consented_on", "consent_form_version", "consent_taken_by",
                  *CHARACTERISTIC_CODES)
        field_classes = {"consented_on": DayMonthYearField}
        # In the nurse's words, saying what to do (not Django's "This field is required.").
        error_messages = {"consent_form_version": {"required": (
            "Type the consent form version printed on the signed form, e.g. v1.0.")}}
        help_texts = {**CharacteristicsModelForm.Meta.help_texts,
                      "consented_on": "The date on the signed consent form.",
                      "consent_form_version": "As printed on the form, e.g. v1.0."}

    def __init__(self, *args, clinic_code: str, **kwargs):
        self.clinic_code = clinic_code
        super().__init__(*args, **kwargs)
        self.fields["consented_on"].validators.append(_not_in_future)

    def get_layout(self) -> Layout:
        return Layout(
            "enrolment_key",
            section("1. Consent", "consent_given", "consented_on", "consent_form_version",
                    "consent_taken_by",
                    hint="Record consent first: no data is kept without it."),
            section("2. Study ID", "study_id"),
            section("3. Baseline characteristics", characteristics_grid(),
                    hint="From the clinical record. Leave a field empty if it is not recorded."))

    def clean_study_id(self) -> str:
        value = self.cleaned_data["study_id"].strip().upper()
        if not value:
            return ""
        for validator in STUDY_ID_VALIDATORS:
            validator(value)
        validate_study_id_clinic(value, self.clinic_code)
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


class CharacteristicsForm(CharacteristicsModelForm):
    """A correction of the characteristics, with its reason for the audit trail."""

    reason = forms.CharField(label="Reason for the change", max_length=200,
                             help_text="For the audit trail, e.g. 'keying error'.")

    def get_layout(self) -> Layout:
        return Layout(characteristics_grid(), "reason")


class WithdrawForm(AccessibleFormMixin, forms.Form):
    withdrawn_on = DayMonthYearField(label="Date consent was withdrawn",
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
