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
