"""The sign-in form (with the tries left), the password pages' forms and the one field of
the two-factor pages: Django's forms, rendered like every other (core.forms)."""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.core.exceptions import ValidationError

from core.forms import AccessibleFormMixin

from .lockout import tries_left


class CodeForm(AccessibleFormMixin, forms.Form):
    code = forms.CharField(
        label="Code", max_length=32, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "autofocus": True,
                                      "spellcheck": "false", "autocapitalize": "off"}))

    def __init__(self, *args, hint: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].help_text = hint
        self._describe("code")


class SignInForm(AccessibleFormMixin, AuthenticationForm):
    """Django's sign-in form; a wrong password also says how many tries are left before
    the user name is locked (core.otp.lockout). Said for any user name, known or not, so
    the message tells nobody which names exist."""

    def get_invalid_login_error(self) -> ValidationError:
        username = self.cleaned_data.get("username") or ""
        left = tries_left(username)
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        return ValidationError(
            "That user name and password do not match. %(left)s before this account is "
            "locked for %(minutes)s minutes.", code="invalid_login",
            params={"left": f"{left} {'try' if left == 1 else 'tries'} left",
                    "minutes": minutes})


class PasswordResetRequestForm(AccessibleFormMixin, PasswordResetForm):
    """Django's "send me a link" form."""


class NewPasswordForm(AccessibleFormMixin, SetPasswordForm):
    """Django's new-password form (a reset link, or an invited user's first password)."""
