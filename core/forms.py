"""What every app's forms share: accessible widgets, crispy rendering, service errors.

Forms only parse and check input; the services do the writing and have the last word
(their ValidationErrors are shown on the form by `add_service_errors`).

Every form renders one way: it has AccessibleFormMixin, and the page draws it with
django-crispy-forms (`{% crispy form %}`) through the project's own templates:
core/_field.html (label, hint and error tied to the input with aria-describedby) and
core/crispy/fieldset.html. The page draws the <form> tag, the error summary
(core/_error_summary.html, in the layout's order) and the buttons around it. Django's own
forms (sign-in, password pages) get the mixin too (core/otp/forms.py): included field by
field, their hints were not tied to their inputs.
"""
from __future__ import annotations

import re

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Fieldset, Layout
from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html

FIELD_TEMPLATE = "core/_field.html"
FORM_TEMPLATE = "core/crispy/form.html"
FIELDSET_TEMPLATE = "core/crispy/fieldset.html"


def _widget_class(widget: forms.Widget) -> str:
    if getattr(widget, "input_type", "") in ("checkbox", "radio"):
        return "form-check-input"
    return "form-select" if isinstance(widget, forms.Select) else "form-control"


def section(legend: str, *fields, hint: str = "") -> Fieldset:
    """A numbered part of a form: a fieldset with its legend and, optionally, a hint."""
    parts = [HTML(format_html('<p class="form-section__hint">{}</p>', hint))] if hint else []
    return Fieldset(legend, *parts, *fields, css_class="form-section",
                    template=FIELDSET_TEMPLATE)


class AccessibleFormMixin:
    """Bootstrap classes, hint/error ids wired to each input with aria-describedby, and a
    crispy helper drawing the fields of `get_layout()` (by default all, in order)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("class", _widget_class(field.widget))
            self._describe(name)

    def get_layout(self) -> Layout:
        return Layout(*self.fields)

    @property
    def helper(self) -> FormHelper:
        # Built when the page renders, after validation: a layout may depend on the errors.
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True
        helper.template = FORM_TEMPLATE
        helper.field_template = FIELD_TEMPLATE
        helper.layout = self.get_layout()
        return helper

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

    @property
    def error_summary(self) -> list[tuple[str, str]]:
        """(anchor id, text) of every error, in the order the fields appear on the page
        (the layout's order, not the order the fields were declared in)."""
        rows = [("", str(error)) for error in self.non_field_errors()]
        for name in self.page_order():
            bound = self[name]
            rows += [(bound.auto_id, f"{bound.label}: {error}") for error in bound.errors]
        return rows

    def page_order(self) -> list[str]:
        """Field names as the layout draws them, then any field it leaves out."""
        laid_out = [pointer.name for pointer in self.get_layout().get_field_names()]
        names = [name for name in dict.fromkeys(laid_out) if name in self.fields]
        return names + [name for name in self.fields if name not in names]


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: beside its field, or at the top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)


# Day, month, year in that order, whatever the browser's locale (a date input follows it):
# 1/2/2026 or 01/02/2026, with "/", "." or "-"; ISO 2026-02-01 is read too (scripts, tests).
SEPARATORS = ("/", ".", "-")
DATE_INPUT_FORMATS = [*(f"%d{first}%m{second}%Y" for first in SEPARATORS for second in SEPARATORS),
                      "%Y-%m-%d"]
DATE_FORMAT_ERROR = "Type the date as day/month/year, e.g. 27/03/2026."
# Typed in the right shape but no such day (31/02/2026): said apart from a wrong shape.
DATE_SHAPE = re.compile(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{4}$|^\d{4}-\d{2}-\d{2}$")


class DayMonthYearField(forms.DateField):
    """A date typed in one text field as dd/mm/yyyy, the same in every browser."""

    widget = forms.DateInput(format="%d/%m/%Y", attrs={
        "class": "form-control input--date", "autocomplete": "off", "spellcheck": "false",
        "size": "10"})
    input_formats = DATE_INPUT_FORMATS
    default_error_messages = {"invalid": DATE_FORMAT_ERROR}

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError:
            text = str(value).strip()
            if not DATE_SHAPE.match(text):
                raise
            raise ValidationError(f"{text} is not a date: {DATE_FORMAT_ERROR[0].lower()}"
                                  f"{DATE_FORMAT_ERROR[1:]}", code="invalid") from None
