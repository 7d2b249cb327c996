"""The day/month/year date field: Django's DateField with the study's input formats."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from core.forms import DATE_FORMAT_ERROR, DayMonthYearField


@pytest.mark.parametrize("typed", ["3/2/2026", "03/02/2026", "3.2.2026", "03-02-2026",
                                   "3/2-2026", " 03/02/2026 ", "2026-02-03"])
def test_day_month_year_with_any_separator_and_iso_are_read_day_first(typed):
    assert DayMonthYearField().clean(typed) == dt.date(2026, 2, 3)


@pytest.mark.parametrize("typed", ["2/3/26", "03-2026", "February 3", "3 2 2026",
                                   "2026/02/03"])
def test_another_shape_is_refused_with_the_format_message(typed):
    with pytest.raises(ValidationError) as error:
        DayMonthYearField().clean(typed)
    assert error.value.messages == [DATE_FORMAT_ERROR]


@pytest.mark.parametrize("typed", ["31/02/2026", "29/2/2025", "1/13/2026", "2026-02-30"])
def test_a_day_that_does_not_exist_is_named(typed):
    with pytest.raises(ValidationError) as error:
        DayMonthYearField().clean(typed)
    assert error.value.messages == [
        f"{typed} is not a date: type the date as day/month/year, e.g. 27/03/2026."]


def test_a_leap_day_and_an_empty_optional_field_are_accepted():
    assert DayMonthYearField().clean("29/02/2028") == dt.date(2028, 2, 29)
    assert DayMonthYearField(required=False).clean("") is None


def test_the_field_shows_a_date_day_first():
    assert 'value="03/02/2026"' in DayMonthYearField().widget.render("d", dt.date(2026, 2, 3))


# --- one way to draw a form ---------------------------------------------------------------

def test_no_template_draws_a_form_field_by_hand():
    # Every form is drawn by {% crispy form %}; core/_field.html is its field template only.
    from django.conf import settings

    included = [path.relative_to(settings.BASE_DIR).as_posix()
                for path in sorted((settings.BASE_DIR / "templates").rglob("*.html"))
                if "core/_field.html" in path.read_text() and path.name != "_field.html"
                and "crispy/" not in path.as_posix()]
    assert included == []


def test_every_form_of_the_project_is_accessible():
    """Every Form and ModelForm the apps define has the mixin that draws it (and so its
    hints and errors tied to the input, the error summary in page order)."""
    import importlib
    from pathlib import Path

    from django import forms
    from django.conf import settings

    from core.forms import AccessibleFormMixin

    apps = ("core", "clinics", "patients", "questionnaires", "selfcompletion", "reminders",
            "analysis")
    for app in apps:
        for path in Path(settings.BASE_DIR, app).rglob("forms.py"):
            relative = path.relative_to(settings.BASE_DIR).with_suffix("")
            importlib.import_module(".".join(relative.parts))

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = {cls for cls in subclasses(forms.BaseForm) if cls.__module__.split(".")[0] in apps
            and ".tests" not in cls.__module__}
    assert len(ours) >= 12                       # the check sees the project's forms
    assert sorted(f"{cls.__module__}.{cls.__name__}" for cls in ours
                  if not issubclass(cls, AccessibleFormMixin)) == []


@pytest.mark.django_db
def test_the_new_password_rules_are_tied_to_the_input(client, nurse_a):
    # Django's own form, drawn field by field, pointed at "id_new_password1_helptext",
    # which did not exist; the rules, a list, also fell out of their <p>.
    import re

    from django.contrib.auth.tokens import default_token_generator
    from django.urls import reverse
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(nurse_a.pk))
    url = reverse("clinics:set_password", args=[uid, default_token_generator.make_token(nurse_a)])
    page = client.get(url, follow=True).content.decode()
    described = re.search(r'<input[^>]*id="id_new_password1"[^>]*>', page).group(0)
    assert 'aria-describedby="id_new_password1_hint"' in described
    hint = re.search(r'<div class="field__hint" id="id_new_password1_hint">(.*?)</div>', page,
                     re.S)
    assert "at least 12 characters" in hint.group(1)
    assert 'class="form-control"' in described


@pytest.mark.django_db
def test_a_wrong_sign_in_is_summarised_and_tied_to_the_fields(client, nurse_a):
    from django.urls import reverse

    page = client.post(reverse("login"), {"username": "", "password": ""}).content.decode()
    assert '<a href="#id_username">Username: This field is required.</a>' in page
    assert 'aria-describedby="id_username_error"' in page
    assert 'aria-invalid="true"' in page
