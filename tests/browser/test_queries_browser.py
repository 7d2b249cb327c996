"""A query walked in Chromium: the data manager raises it from the data-quality list, the
clinic's nurse answers it, the data manager closes it as explained and accepted, and the row
leaves the list. axe finds no serious or critical violation on the pages on the way."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from dataqueries.models import Query, QueryStatus
from tests.browser.pages import axe_check, sign_in
from tests.factories import enrol_patient, full_answers, save_administration

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def missing_score(clinic_a, nurse_a):
    """A-900's baseline (ten days ago: not overdue) misses bpi_worst."""
    baseline_on = timezone.localdate() - dt.timedelta(days=10)
    patient = enrol_patient(clinic=clinic_a, by=nurse_a, consented_on=baseline_on,
                            study_id="A-900")
    answers = full_answers()
    answers["bpi_worst"] = None
    return save_administration(patient, by=nurse_a, administered_on=baseline_on,
                               answers=answers)


def test_a_query_from_the_quality_list_to_the_answer_and_the_close(
        live_server, new_page, data_manager, nurse_a, missing_score):
    manager = new_page()
    sign_in(manager, live_server, data_manager)
    manager.goto(live_server.url + reverse("analysis:quality"))
    axe_check(manager)
    section = manager.locator("#missing_scores")
    section.get_by_role("link", name="Raise query on A-900").click()
    assert manager.get_by_label("Study ID").input_value() == "A-900"
    assert "1 of 4 items missing" in manager.get_by_label("Query for the clinic").input_value()
    axe_check(manager)
    manager.get_by_role("button", name="Raise query").click()
    manager.get_by_text(re.compile(r"Query \d+ on A-900 raised")).wait_for()
    query = Query.objects.get()
    assert (query.item, query.administration_id) == ("bpi_worst", missing_score.pk)
    assert section.get_by_role("link", name=f"Query {query.pk}").is_visible()

    nurse = new_page()
    sign_in(nurse, live_server, nurse_a)
    nurse.goto(live_server.url + reverse("dataqueries:list"))
    axe_check(nurse)
    nurse.get_by_role("link", name=f"Query {query.pk}").click()
    assert nurse.get_by_role("link", name="Correct the baseline entry").is_visible()
    axe_check(nurse)
    nurse.get_by_label("Your answer").fill("The patient left worst pain blank on paper.")
    nurse.get_by_role("button", name="Send answer").click()
    nurse.get_by_text("the data manager will review it").wait_for()
    assert Query.objects.get().status == QueryStatus.ANSWERED

    manager.goto(live_server.url + reverse("dataqueries:detail", args=[query.pk]))
    manager.get_by_text("The patient left worst pain blank on paper.").wait_for()
    manager.get_by_label(re.compile("^Explained and accepted")).check()
    manager.get_by_label("Reason").fill("Blank on the paper form; confirmed.")
    axe_check(manager)
    manager.get_by_role("button", name="Close query").click()
    manager.get_by_text(f"Query {query.pk} closed.").wait_for()
    axe_check(manager)
    assert Query.objects.get().status == QueryStatus.ACCEPTED

    manager.goto(live_server.url + reverse("analysis:quality"))
    assert "1 row explained and accepted is left out" in section.inner_text()
    assert section.get_by_text("None.").is_visible()
