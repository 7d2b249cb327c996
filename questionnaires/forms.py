"""The entry form: one page per administration, every item a row of radio buttons.

Each item has an explicit "Not answered" choice. "Save as draft" accepts untouched items;
"Complete" needs every item to have a value or "Not answered", so that a skipped row is a
decision on the paper form, never a slip of the keyboard.
"""
from __future__ import annotations

import datetime as dt

from crispy_forms.layout import HTML, Div, Field, Layout
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.html import format_html

from core.forms import AccessibleFormMixin, DayMonthYearField, section
from patients.worklist import followup_dates

from .instruments import INSTRUMENTS, ITEM_CODES, ITEMS, ITEMS_BY_CODE
from .models import Administration, PihFormVersion, Timepoint
from .wording import item_wordings

NOT_ANSWERED = "na"
UNANSWERED = "Choose a value, or 'Not answered' if the patient left it blank."
# As the paper forms and the site's headings abbreviate them (error summary lines).
SHORT_NAMES = {"bpi": "BPI", "ppic": "PPiC", "pih": "PIH"}
ACTION_DRAFT = "draft"
ACTION_COMPLETE = "complete"
# One item: a fieldset of radios in one line, with "Not answered" (static/js/entry.js keys).
ITEM_TEMPLATE = "questionnaires/_item.html"
INSTRUMENT_TEMPLATE = "questionnaires/_instrument.html"


class CorrectionReasonField(forms.CharField):
    """Required for a correction of a completed questionnaire, and shown so; the service
    enforces it, since only it knows whether anything changed (an identical resend of the
    form, e.g. a double click, changes nothing and needs no reason)."""

    def validate(self, value):
        pass  # Field.validate only checks required-ness: left to administration_save


def _item_field(item) -> forms.ChoiceField:
    choices = [(str(value), str(value)) for value in item.values]
    field = forms.ChoiceField(label=item.label, required=False,
                              choices=[*choices, (NOT_ANSWERED, "Not answered")],
                              widget=forms.RadioSelect)
    field.item = item  # code and range for the item template
    return field


def initial_from(administration: Administration | None) -> dict:
    """Form values for a stored administration (a new one starts dated today)."""
    if administration is None:
        return {"administered_on": timezone.localdate(), "pih_form_version": PihFormVersion.CURRENT}
    # A completed form's empty item was a decision ("Not answered"); in a draft it may
    # simply not have been keyed yet, so it stays unselected.
    empty = NOT_ANSWERED if administration.is_complete else ""
    initial = {code: empty if value is None else str(value)
               for code, value in administration.answers.items()}
    initial.update(administered_on=administration.administered_on,
                   pih_form_version=administration.pih_form_version,
                   base_version=administration.version)
    return initial


class AdministrationForm(AccessibleFormMixin, forms.Form):
    administered_on = DayMonthYearField(
        label="Date completed",
        help_text="The date the patient filled in the paper form, as day/month/year "
                  "(e.g. 27/03/2026).")
    confirm_outside_window = forms.BooleanField(
        label="Yes, the follow-up was completed outside its window", required=False)
    pih_form_version = forms.ChoiceField(
        label="PIH form version", choices=PihFormVersion.choices, widget=forms.RadioSelect,
        help_text="Older forms printed 0 as best; they are scored as 8 minus the answer. "
                  "Keyboard: 1 = current form, 2 = older form, Enter keeps the choice.")
    reason = CorrectionReasonField(
        label="Reason for the change", required=False, max_length=200,
        help_text="Needed to change a completed questionnaire, e.g. 'keying error'.")
    base_version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, timepoint: str, existing: Administration | None,
                 baseline_on: dt.date | None, **kwargs):
        super().__init__(*args, **kwargs)
        for item in ITEMS:
            self.fields[item.code] = _item_field(item)
        self.timepoint = timepoint
        self.existing = existing
        self.baseline_on = baseline_on
        dates = (followup_dates(baseline_on)
                 if timepoint == Timepoint.FOLLOWUP and baseline_on else None)
        self.window = (dates.window_start, dates.window_end) if dates else None
        self.needs_window_confirmation = False
        self.unanswered: list[str] = []  # item codes "Complete" found without a value
        # The label (no "(optional)") and the check agree: a completed questionnaire
        # changes only with a reason for the audit trail.
        self.fields["reason"].required = self.is_correction

    @property
    def action(self) -> str:
        return self.data.get("action", "") if self.is_bound else ""

    @property
    def is_correction(self) -> bool:
        return self.existing is not None and self.existing.is_complete

    def clean(self):
        cleaned = super().clean()
        if self.action not in (ACTION_DRAFT, ACTION_COMPLETE):
            raise ValidationError("Choose 'Save as draft' or 'Complete'.")
        if self.action == ACTION_DRAFT and self.is_correction:
            raise ValidationError("This questionnaire is complete: it cannot go back to "
                                  "draft. Save your correction with 'Save correction'.")
        if self.action == ACTION_COMPLETE:
            for code in ITEM_CODES:
                if not cleaned.get(code) and code not in self._errors:
                    self.unanswered.append(code)
                    self.add_error(code, UNANSWERED)
        self._check_window(cleaned)
        return cleaned

    @property
    def error_summary(self) -> list[tuple[str, str]]:
        """Page-order errors, with the items left empty counted per instrument ("BPI: 11
        items not answered") instead of one line each; each line links to its first item."""
        rows = []
        for anchor, text in super().error_summary:
            code = anchor.removeprefix("id_")
            if code not in self.unanswered:
                rows.append((anchor, text))
            elif code == self._first_unanswered(code):
                rows.append((anchor, self._unanswered_line(ITEMS_BY_CODE[code].instrument)))
        return rows

    def _first_unanswered(self, code: str) -> str:
        instrument = ITEMS_BY_CODE[code].instrument
        return next(c for c in self.unanswered if ITEMS_BY_CODE[c].instrument == instrument)

    def _unanswered_line(self, instrument: str) -> str:
        count = sum(ITEMS_BY_CODE[c].instrument == instrument for c in self.unanswered)
        name = SHORT_NAMES[instrument]
        if count == 1:
            return f"{name}: 1 item not answered: choose a value, or 'Not answered'"
        return f"{name}: {count} items not answered: choose a value, or 'Not answered'"

    def _check_window(self, cleaned: dict) -> None:
        day = cleaned.get("administered_on")
        if self.window is None or day is None or cleaned.get("confirm_outside_window"):
            return
        start, end = self.window
        if not start <= day <= end:
            self.needs_window_confirmation = True
            self.add_error("administered_on", (
                f"{day:%d %b %Y} is outside the follow-up window ({start:%d %b %Y} to "
                f"{end:%d %b %Y}). Check the date; if it is right, tick the box to confirm."))

    def answers(self) -> dict[str, int | None]:
        """Item answers for the service: empty or 'Not answered' is None."""
        return {code: None if self.cleaned_data.get(code) in ("", None, NOT_ANSWERED)
                else int(self.cleaned_data[code]) for code in ITEM_CODES}

    def get_layout(self) -> Layout:
        """Date, the three instruments' items, and the reason for a correction."""
        date = ["administered_on"]
        if self.window:
            start, end = (format_date(day, "j M Y") for day in self.window)
            date.insert(0, HTML(format_html(
                '<p class="field__hint">Follow-up window: {} to {}.</p>', start, end)))
        if self.needs_window_confirmation or self["confirm_outside_window"].value():
            date.append("confirm_outside_window")
        parts = ["base_version", section("Date", *date), *self._instrument_sections()]
        if self.is_correction:
            parts.append(section("Correction", "reason"))
        return Layout(*parts)

    def _instrument_sections(self) -> list[Div]:
        wordings = item_wordings()  # licensed full wording, where the site has loaded it
        sections = []
        for instrument in INSTRUMENTS:
            for item in instrument.items:
                self.fields[item.code].wording = wordings.get(item.code, "")
            anchors = instrument.anchors
            heading = HTML(format_html(
                '<h2 id="instrument-{0}" class="instrument__title">{1}</h2>'
                '<p class="instrument__anchors">{2}; {3}</p>',
                instrument.code, instrument.name, anchors[0], anchors[1]))
            version = ["pih_form_version"] if instrument.code == "pih" else []
            items = [Field(item.code, template=ITEM_TEMPLATE) for item in instrument.items]
            sections.append(Div(heading, *version, *items, css_class="instrument",
                                aria_labelledby=f"instrument-{instrument.code}",
                                template=INSTRUMENT_TEMPLATE))
        return sections
