"""Building the entry page's POST data as the browser sends it."""
from __future__ import annotations

import datetime as dt

from django.urls import reverse

from questionnaires.forms import NOT_ANSWERED


def entry_url(patient, timepoint: str = "baseline") -> str:
    return reverse("questionnaires:entry", args=[patient.study_id, timepoint])


def entry_data(answers: dict, *, administered_on: dt.date, action: str = "complete",
               base_version: int | None = None, **extra) -> dict:
    """None in answers is the explicit "Not answered"; a code left out is untouched."""
    data = {code: NOT_ANSWERED if value is None else str(value)
            for code, value in answers.items()}
    data.update(administered_on=administered_on.isoformat(), pih_form_version="current",
                action=action, base_version="" if base_version is None else str(base_version))
    data.update({key: str(value) for key, value in extra.items()})
    return data
