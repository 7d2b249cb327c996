"""The query pages: who sees what (the outsider gets 404), the raise form (prefill, bad
input, a double submission), answering and closing from the page."""
from __future__ import annotations

import pytest
from django.urls import reverse

from dataqueries.models import Query, QueryMessage, QuerySource, QueryStatus
from dataqueries.services import query_answer, query_close, query_raise
from patients.models import PatientAccessLog

pytestmark = pytest.mark.django_db

KEY = "6f1c2d3e-0000-4000-8000-0000000000ab"


def _detail(query) -> str:
    return reverse("dataqueries:detail", kwargs={"query_id": query.pk})


def _action(query, step: str) -> str:
    return reverse(f"dataqueries:{step}", kwargs={"query_id": query.pk})


@pytest.fixture
def query_b(make_patient, clinic_b, data_manager):
    patient = make_patient(clinic=clinic_b, study_id="B-001")
    return query_raise(patient=patient, by=data_manager, text="Clinic B's question.")[0]


def test_a_nurse_lists_her_own_clinics_queries_only(client, nurse_a, query, query_b):
    client.force_login(nurse_a)
    page = client.get(reverse("dataqueries:list"))
    assert [q.pk for q in page.context["queries"]] == [query.pk]
    assert "Clinic B's question" not in page.content.decode()


def test_a_data_manager_lists_every_clinic_and_filters(client, data_manager, query, query_b):
    client.force_login(data_manager)
    listed = client.get(reverse("dataqueries:list")).context["queries"]
    assert {q.pk for q in listed} == {query.pk, query_b.pk}
    only_b = client.get(reverse("dataqueries:list"), {"clinic": "B"}).context["queries"]
    assert [q.pk for q in only_b] == [query_b.pk]
    query_close(query=query_b, by=data_manager, outcome=QueryStatus.RESOLVED)
    closed = client.get(reverse("dataqueries:list"), {"status": "closed"}).context["queries"]
    assert [q.pk for q in closed] == [query_b.pk]


@pytest.mark.parametrize("user", ["researcher", "statistician"])
def test_researchers_and_statisticians_see_no_query(client, request, query, user):
    client.force_login(request.getfixturevalue(user))
    assert client.get(reverse("dataqueries:list")).status_code == 403
    assert client.get(_detail(query)).status_code == 403
    assert client.get(reverse("dataqueries:raise")).status_code == 403


def test_another_clinics_nurse_gets_404_and_writes_nothing(client, nurse_b, query):
    client.force_login(nurse_b)
    assert client.get(_detail(query)).status_code == 404
    assert client.post(_action(query, "answer"), {"answer-text": "x"}).status_code == 404
    assert QueryMessage.objects.filter(query=query).count() == 1
    assert not PatientAccessLog.objects.filter(user=nurse_b).exists()


def test_the_nurse_answers_from_the_page_and_the_view_is_logged(client, nurse_a, query):
    client.force_login(nurse_a)
    page = client.get(_detail(query))
    body = page.content.decode()
    assert "Worst pain is empty" in body and "Send answer" in body
    assert "Close query" not in body
    assert reverse("questionnaires:entry", args=["A-001", "baseline"]) in body  # correct it
    assert PatientAccessLog.objects.filter(user=nurse_a, patient=query.patient).exists()
    response = client.post(_action(query, "answer"), {"answer-text": "Entered 7 from paper."})
    assert response.status_code == 302
    assert Query.objects.get(pk=query.pk).status == QueryStatus.ANSWERED


def test_a_nurse_cannot_close(client, nurse_a, query):
    client.force_login(nurse_a)
    assert client.post(_action(query, "close"), {"close-outcome": "resolved"}).status_code == 403
    assert Query.objects.get(pk=query.pk).status == QueryStatus.OPEN


def test_an_answer_posted_to_a_query_closed_meanwhile_says_so(client, nurse_a, data_manager,
                                                              query):
    client.force_login(nurse_a)
    client.get(_detail(query))  # the nurse's page shows the answer form ...
    query_close(query=query, by=data_manager, outcome=QueryStatus.RESOLVED)  # ... meanwhile
    response = client.post(_action(query, "answer"), {"answer-text": "Late."})
    assert response.status_code == 200
    assert "A closed query takes no answer" in response.content.decode()
    assert list(QueryMessage.objects.filter(query=query).values_list("action", flat=True)) == [
        "raised", "resolved"]


def test_accepting_without_a_reason_names_the_field(client, data_manager, query):
    client.force_login(data_manager)
    response = client.post(_action(query, "close"), {"close-outcome": "accepted"})
    assert response.status_code == 200
    assert "Reason: Say why the explanation is accepted" in response.content.decode()
    assert Query.objects.get(pk=query.pk).status == QueryStatus.OPEN


def test_the_data_manager_closes_and_reopens_from_the_page(client, data_manager, nurse_a,
                                                           query):
    query_answer(query=query, by=nurse_a, text="Blank on paper.")
    client.force_login(data_manager)
    assert client.post(_action(query, "close"), {
        "close-outcome": "accepted", "close-reason": "Blank on paper."}).status_code == 302
    assert Query.objects.get(pk=query.pk).status == QueryStatus.ACCEPTED
    assert "Re-open query" in client.get(_detail(query)).content.decode()
    assert client.post(_action(query, "reopen"), {
        "reopen-text": "Check the back page."}).status_code == 302
    assert Query.objects.get(pk=query.pk).status == QueryStatus.OPEN


def _raise_data(**changes) -> dict:
    data = {"study_id": "a-001", "timepoint": "baseline", "item": "bpi_worst",
            "text": "Please check.", "source": QuerySource.MISSING_SCORES, "raise_key": KEY}
    return data | changes


def test_the_raise_form_is_prefilled_from_the_link(client, data_manager, baseline):
    client.force_login(data_manager)
    form = client.get(reverse("dataqueries:raise"), {
        "study_id": "A-001", "timepoint": "baseline", "item": "bpi_worst",
        "source": "missing_scores", "text": "Why empty?"}).context["form"]
    assert {name: form[name].value() for name in ("study_id", "timepoint", "item", "text",
                                                  "source")} == {
        "study_id": "A-001", "timepoint": "baseline", "item": "bpi_worst",
        "text": "Why empty?", "source": "missing_scores"}


def test_a_double_submission_of_the_raise_form_raises_one_query(client, data_manager,
                                                                baseline):
    client.force_login(data_manager)
    first = client.post(reverse("dataqueries:raise"), _raise_data())
    second = client.post(reverse("dataqueries:raise"), _raise_data())
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    query = Query.objects.get()
    assert (query.patient.study_id, query.administration, query.item, query.source) == (
        "A-001", baseline, "bpi_worst", QuerySource.MISSING_SCORES)


def test_raising_goes_back_to_the_quality_list_but_never_off_site(client, data_manager,
                                                                  baseline):
    client.force_login(data_manager)
    back = client.post(reverse("dataqueries:raise"),
                       _raise_data(next="/analysis/quality/#missing_scores"))
    assert back["Location"] == "/analysis/quality/#missing_scores"
    off_site = client.post(reverse("dataqueries:raise"), _raise_data(
        raise_key="6f1c2d3e-0000-4000-8000-0000000000ac", source="manual",
        next="https://evil.example/"))
    assert off_site["Location"] == _detail(Query.objects.latest("pk"))


@pytest.mark.parametrize("changes, field, message", [
    ({"study_id": "A-999"}, "study_id", "No patient with study ID A-999."),
    ({"timepoint": "followup"}, "timepoint", "A-001 has no 3-month follow-up questionnaire"),
    ({"text": ""}, "text", "This field is required."),
    ({"item": "age"}, "item", "age is not a field or item of a questionnaire."),
])
def test_bad_input_names_the_field_and_raises_nothing(client, data_manager, baseline,
                                                      changes, field, message):
    client.force_login(data_manager)
    response = client.post(reverse("dataqueries:raise"), _raise_data(**changes))
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert not Query.objects.exists()
