"""Forms of the dashboard: the study target, the refit options, the interview rule and
interview records."""
from __future__ import annotations

from crispy_forms.layout import Div, Layout
from django import forms

from core.forms import AccessibleFormMixin, DayMonthYearField

from ..models import InterviewContact, InterviewStatus, StudyTarget
from ..stats.results import DEFAULT_OPTIONS, POPULATIONS


class StudyTargetForm(AccessibleFormMixin, forms.ModelForm):
    """The power calculation's inputs; a data manager changes them with a reason."""

    reason = forms.CharField(label="Reason for the change", max_length=100,
                             help_text="Kept in the audit trail, e.g. 'protocol v2 amendment'.")

    class Meta:
        model = StudyTarget
        fields = ["standardised_difference", "power", "alpha", "headline_inference"]
        help_texts = {
            "standardised_difference": "Expected mean change over its SD (the study: 0.40).",
            "power": "Between 0 and 1 (the study: 0.95).",
            "alpha": "Two-sided significance level, between 0 and 1 (the study: 0.05).",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # a form posted without it (scripts, pages before issue 19) keeps the stored setting
        self.fields["headline_inference"].required = False

    def clean_standardised_difference(self) -> float:
        value = self.cleaned_data["standardised_difference"]
        if not 0 < value <= 5:
            raise forms.ValidationError("Enter a standardised difference above 0 and at most 5.")
        return value

    def clean_power(self) -> float:
        value = self.cleaned_data["power"]
        if not 0.5 <= value < 1:
            raise forms.ValidationError("Enter a power of at least 0.5 and below 1.")
        return value

    def clean_alpha(self) -> float:
        value = self.cleaned_data["alpha"]
        if not 0 < value <= 0.2:
            raise forms.ValidationError("Enter an alpha above 0 and at most 0.2.")
        return value


METHODS = [("ml", "ML (maximum likelihood, as published: Stata's mixed, ml)"),
           ("reml", "REML (restricted maximum likelihood)")]


class RefitForm(AccessibleFormMixin, forms.Form):
    """The options of "Refit now": estimation method and analysis population.

    Both may be left out (the plain button of earlier pages): the defaults are the
    published analysis (ML, completers).
    """

    method = forms.ChoiceField(label="Estimation", choices=METHODS, required=False,
                               initial="reml" if DEFAULT_OPTIONS["reml"] else "ml")
    population = forms.ChoiceField(label="Population", choices=list(POPULATIONS.items()),
                                   required=False, initial=DEFAULT_OPTIONS["population"])

    @classmethod
    def for_run(cls, run) -> RefitForm:
        """An unbound form showing the options of the run on the page (defaults without)."""
        options = (run.options or {}) if run is not None else {}
        return cls(initial={"method": "reml" if options.get("reml") else "ml",
                            "population": options.get("population",
                                                      DEFAULT_OPTIONS["population"])})

    def options(self) -> dict:
        """The run's options (analysis/stats/results.py DEFAULT_OPTIONS) from a valid form."""
        data = self.cleaned_data
        method = data.get("method") or self.fields["method"].initial
        return {**DEFAULT_OPTIONS, "reml": method == "reml",
                "population": data.get("population") or self.fields["population"].initial}

    def problems(self) -> str:
        """The errors as one sentence, each naming its field."""
        return " ".join(f"{self.fields[name].label}: {' '.join(errors)}"
                        for name, errors in self.errors.items())


class InterviewRuleForm(AccessibleFormMixin, forms.Form):
    """How Table 3 separates 'unchanged' from a change, and the size of the proposal."""

    sd_fraction = forms.FloatField(
        label="Unchanged within this many baseline SDs", initial=0.5, min_value=0,
        max_value=2, required=False,
        help_text="A change no larger than this fraction of the score's baseline SD "
                  "(among completers) counts as unchanged. Default 0.5 (half an SD).")
    proposal_size = forms.IntegerField(
        label="Patients to propose", initial=12, min_value=1, max_value=100, required=False,
        help_text="Size of the maximum-variation sample, including those already invited.")

    def get_layout(self) -> Layout:
        return Layout(Div("sd_fraction", "proposal_size", css_class="field-grid"))

    def values(self) -> tuple[float, int]:
        """The rule and the proposal size, with defaults for anything left empty or bad."""
        data = self.cleaned_data if self.is_valid() else {}
        fraction = data.get("sd_fraction")
        size = data.get("proposal_size")
        return (self.fields["sd_fraction"].initial if fraction is None else fraction,
                self.fields["proposal_size"].initial if size is None else size)


class InterviewContactForm(AccessibleFormMixin, forms.ModelForm):
    """Who was invited, interviewed (when, how long, where) or declined."""

    study_id = forms.CharField(label="Study ID", max_length=20)

    class Meta:
        model = InterviewContact
        fields = ["status", "invited_on", "interviewed_on", "duration_minutes", "place",
                  "notes"]
        field_classes = {"invited_on": DayMonthYearField, "interviewed_on": DayMonthYearField}
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}

    field_order = ["study_id", "status", "invited_on", "interviewed_on", "duration_minutes",
                   "place", "notes"]

    def clean(self):
        data = super().clean()
        if data.get("status") == InterviewStatus.INTERVIEWED:
            for name in ("interviewed_on", "duration_minutes", "place"):
                if not data.get(name):
                    self.add_error(name, "Give the interview's date, duration and place.")
        duration = data.get("duration_minutes")
        if duration is not None and not 1 <= duration <= 600:
            self.add_error("duration_minutes", "Enter a duration between 1 and 600 minutes.")
        return data
