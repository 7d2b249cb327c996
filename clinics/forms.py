"""Forms of the People page: they parse input; clinics.services checks and writes."""
from __future__ import annotations

from django import forms

from core.forms import AccessibleFormMixin
from core.permissions import STUDY_WIDE_ROLES, Role

from .models import Clinic

STUDY_WIDE = ", ".join(str(Role(role).label).lower() for role in Role.values
                       if role in STUDY_WIDE_ROLES)


class InviteForm(AccessibleFormMixin, forms.Form):
    username = forms.CharField(label="User name", max_length=150,
                               help_text="What they type to sign in, e.g. jsmith.")
    email = forms.EmailField(label="Email address", required=False,
                             help_text="Where the link to set a password is sent, if mail "
                                       "is set up; otherwise you are shown the link to pass "
                                       "on.")
    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update(autocomplete="off", spellcheck="false",
                                                    autocapitalize="off")
        self.fields["email"].widget.attrs.update(autocomplete="off")


class RoleForm(AccessibleFormMixin, forms.Form):
    role = forms.ChoiceField(label="Role", choices=[("", "Choose a role")] + Role.choices)
    clinic = forms.ModelChoiceField(
        label="Clinic", queryset=Clinic.objects.order_by("code"), required=False,
        empty_label="Choose a clinic",
        help_text=f"For a nurse. A {STUDY_WIDE} holds the role at every clinic: leave empty.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].label_from_instance = lambda clinic: f"{clinic.code} – {clinic.name}"
