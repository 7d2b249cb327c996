"""The data-quality page and queries: each row links to its record and (for data managers)
to its query, prefilled from the row; a row explained and accepted leaves its list; the
page counts queries per clinic."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from analysis.pages import quality
from dataqueries.models import QuerySource, QueryStatus
from dataqueries.services import query_answer, query_close, query_raise, query_reopen
from tests.factories import full_answers

pytestmark = pytest.mark.django_db


@pytest.fixture
def missing(make_patient, make_administration):
    """A-900's baseline misses bpi_worst (so BPI severity is missing)."""
    patient = make_patient(study_id="A-900")
    answers = full_answers()
    answers["bpi_worst"] = None
    return make_administration(patient, "baseline", answers=answers)


def _page(client, user):
    client.force_login(user)
    return client.get(reverse("analysis:quality"))


def _raise_link(body: str) -> dict[str, list[str]]:
    start = body.index(reverse("dataqueries:raise") + "?")
    href = body[start:body.index('"', start)].replace("&amp;", "&")
    return parse_qs(urlsplit(href).query)


def test_a_row_links_to_the_record_and_offers_a_prefilled_query(client, data_manager, missing):
    body = _page(client, data_manager).content.decode()
    assert f'href="{reverse("patients:detail", args=["A-900"])}"' in body
    prefill = _raise_link(body)
    assert {name: prefill[name] for name in ("study_id", "timepoint", "item", "source")} == {
        "study_id": ["A-900"], "timepoint": ["baseline"], "item": ["bpi_worst"],
        "source": ["missing_scores"]}
    assert "BPI pain severity: 1 of 4 items missing" in prefill["text"][0]
    assert prefill["next"] == ["/analysis/quality/#missing_scores"]


def test_the_row_of_a_raised_query_links_to_it(client, data_manager, missing):
    raised, _ = query_raise(patient=missing.patient, administration=missing, text="Check.",
                            source=QuerySource.MISSING_SCORES, by=data_manager)
    body = _page(client, data_manager).content.decode()
    assert reverse("dataqueries:detail", args=[raised.pk]) in body
    assert "source=missing_scores" not in body  # (the patient is overdue too: that row offers one)


def test_researchers_see_the_links_to_records_but_nothing_of_queries_rows(client, researcher,
                                                                          missing):
    body = _page(client, researcher).content.decode()
    assert reverse("patients:detail", args=["A-900"]) in body
    assert "Raise query" not in body


def test_a_row_explained_and_accepted_leaves_its_list_until_reopened(
        client, data_manager, nurse_a, missing):
    raised, _ = query_raise(patient=missing.patient, administration=missing, text="Check.",
                            source=QuerySource.MISSING_SCORES, by=data_manager)
    query_answer(query=raised, by=nurse_a, text="Left blank by the patient.")
    query_close(query=raised, by=data_manager, outcome=QueryStatus.ACCEPTED,
                reason="Blank on the paper form.")
    response = _page(client, data_manager)
    lists = {lst.key: lst for lst in response.context["lists"]}
    assert (lists["missing_scores"].count, lists["missing_scores"].accepted) == (0, 1)
    assert "1 row explained and accepted is left out" in response.content.decode()
    query_reopen(query=raised, by=data_manager, text="Scan found.")
    lists = {lst.key: lst for lst in _page(client, data_manager).context["lists"]}
    assert (lists["missing_scores"].count, lists["missing_scores"].accepted) == (1, 0)


def test_resolving_keeps_the_row_while_its_problem_remains(data_manager, missing):
    raised, _ = query_raise(patient=missing.patient, administration=missing, text="Check.",
                            source=QuerySource.MISSING_SCORES, by=data_manager)
    query_close(query=raised, by=data_manager, outcome=QueryStatus.RESOLVED)
    assert quality.missing_scores().count == 1


def test_an_accepted_overdue_patient_leaves_the_overdue_list(make_patient, make_administration,
                                                             data_manager):
    ago = timezone.localdate() - dt.timedelta(days=100)
    for study_id in ("A-701", "A-702"):
        patient = make_patient(study_id=study_id, consented_on=ago)
        make_administration(patient, "baseline", administered_on=ago)
    accepted, _ = query_raise(patient=patient, source=QuerySource.OVERDUE, text="Overdue.",
                              by=data_manager)
    query_close(query=accepted, by=data_manager, outcome=QueryStatus.ACCEPTED,
                reason="Follow-up booked next week.")
    assert [row[0] for row in quality.overdue_followups().rows] == ["A-701"]


def test_every_list_suggests_a_query_naming_its_row(make_patient, make_administration,
                                                    data_manager):
    ago = timezone.localdate() - dt.timedelta(days=200)
    patient = make_patient(study_id="A-500", consented_on=ago)
    make_administration(patient, "baseline", administered_on=ago)
    followup = make_administration(patient, "followup", administered_on=ago + dt.timedelta(130))
    target = quality.followups_outside_window().targets[0]
    assert (target.study_id, target.administration_id, target.timepoint, target.item) == (
        "A-500", followup.pk, "followup", "administered_on")
    assert "day 130" in target.text


def test_the_page_counts_queries_per_clinic(client, researcher, data_manager, missing,
                                            clinic_b):
    query_raise(patient=missing.patient, text="One.", by=data_manager)
    rows = _page(client, researcher).context["query_counts"]
    assert [(r.clinic.code, r.open, r.answered, r.closed) for r in rows] == [
        ("A", 1, 0, 0), ("B", 0, 0, 0)]


def test_a_closed_query_refreshes_the_kept_lists(client, data_manager, missing):
    """The lists are kept until the data change: a query's state change counts too."""
    raised, _ = query_raise(patient=missing.patient, administration=missing, text="Check.",
                            source=QuerySource.MISSING_SCORES, by=data_manager)
    assert {lst.key: lst.count for lst in _page(client, data_manager).context["lists"]}[
        "missing_scores"] == 1
    query_close(query=raised, by=data_manager, outcome=QueryStatus.ACCEPTED, reason="ok")
    assert {lst.key: lst.count for lst in _page(client, data_manager).context["lists"]}[
        "missing_scores"] == 0


def test_the_system_raises_one_query_per_row_without_one(make_patient, make_administration,
                                                         data_manager, missing):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from dataqueries.models import Query

    ago = timezone.localdate() - dt.timedelta(days=100)
    overdue = make_patient(study_id="A-701", consented_on=ago)
    make_administration(overdue, "baseline", administered_on=ago)
    already, _ = query_raise(patient=missing.patient, administration=missing, text="Mine.",
                             source=QuerySource.MISSING_SCORES, by=data_manager)
    out = StringIO()
    call_command("raise_quality_queries", "--by", "data_manager", stdout=out)
    # A-900 (the fixture's patient, consented 100 days ago) and A-701 are overdue; A-900's
    # missing score has its query already.
    assert "missing_scores: 0 queries raised" in out.getvalue()
    assert "overdue: 2 queries raised" in out.getvalue()
    raised = Query.objects.exclude(pk=already.pk)
    assert sorted((q.patient.study_id, q.source, q.administration_id) for q in raised) == [
        ("A-701", "overdue", None), ("A-900", "overdue", None)]
    assert all("was due on" in q.text and q.raised_by == data_manager for q in raised)
    call_command("raise_quality_queries", "--by", "data_manager", stdout=StringIO())
    assert Query.objects.count() == 3  # a second pass raises nothing new
    with pytest.raises(CommandError, match="not an active data manager"):
        call_command("raise_quality_queries", "--by", "nurse_a", stdout=StringIO())


def _queries_of_page(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_pages_queries_do_not_grow_with_rows_and_queries(client, data_manager, nurse_a,
                                                             make_patient, make_administration):
    """The quality page (a data manager's, with query links) and the query list: the same
    number of database queries for 2 rows as for 12."""
    client.force_login(data_manager)

    def add(numbers):
        for number in numbers:
            patient = make_patient(study_id=f"A-{number:03d}")
            answers = full_answers()
            answers["bpi_worst"] = None
            admin = make_administration(patient, "baseline", answers=answers)
            query_raise(patient=patient, administration=admin, text="Check.",
                        source=QuerySource.MISSING_SCORES, by=data_manager)

    add(range(2))
    small = [_queries_of_page(client, reverse(name))
             for name in ("analysis:quality", "dataqueries:list")]
    add(range(2, 12))
    large = [_queries_of_page(client, reverse(name))
             for name in ("analysis:quality", "dataqueries:list")]
    assert small == large
