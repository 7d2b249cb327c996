"""Issue 17's parts on the pages users work from: the worklist's open queries, sign-off
marker and keying tasks; the record's queries, sign-off and keying state; the navigation.
Every link the pages offer is followed and must answer 200 to the user it was shown to."""
from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dataqueries.models import QueryStatus
from dataqueries.services import query_answer, query_close, query_raise
from patients.services import record_sign_off
from questionnaires.verification import keying_setting_update, second_keying_submit
from tests.factories import full_answers, make_user

pytestmark = pytest.mark.django_db


def _raise(patient, by, text="Please check the age against the notes."):
    query, _ = query_raise(patient=patient, text=text, by=by)
    return query


def _page(client, user, url) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _worklist(client, user, code="A") -> str:
    return _page(client, user, reverse("clinics:worklist", args=[code]))


def _record(client, user, study_id) -> str:
    return _page(client, user, reverse("patients:detail", args=[study_id]))


def _row(page: str, study_id: str) -> str:
    """The worklist row of the patient (from its <tr> to the next)."""
    start = page.rindex("<tr>", 0, page.index(f">{study_id}</a></th>"))
    return page[start:page.index("</tr>", start)]


def _href(html: str, marker: str) -> str:
    """The href of the first link whose tag carries `marker`, or, for ">text", whose text
    starts with that text."""
    for match in re.finditer(r"<a\b([^>]*)>([^<]*)", html):
        attributes, text = match.groups()
        if (text.startswith(marker[1:]) if marker.startswith(">") else marker in attributes):
            return unescape(re.search(r'href="([^"]+)"', attributes).group(1))
    raise AssertionError(f"no link with {marker}")


@pytest.fixture
def with_queries(make_patient, data_manager, nurse_a):
    """A-001 with two open queries and one answered; A-002 with none."""
    queried, quiet = make_patient(study_id="A-001"), make_patient(study_id="A-002")
    _raise(queried, data_manager)
    _raise(queried, data_manager, text="Two or three sites, please check?")
    answered = _raise(queried, data_manager, text="Consent version?")
    query_answer(query=answered, by=nurse_a, text="v1.0, checked.")
    return queried, quiet


# -- the worklist ----------------------------------------------------------------------------

def test_worklist_shows_a_patients_open_queries_not_answered_ones(client, nurse_a,
                                                                  with_queries):
    page = _worklist(client, nurse_a)
    assert ">2 open<" in _row(page, "A-001")          # the answered one awaits the manager
    assert "data-open-queries" not in _row(page, "A-002")


def test_nurse_sees_no_other_clinics_queries(client, nurse_a, nurse_b, clinic_b, make_patient,
                                             data_manager, with_queries):
    elsewhere = make_patient(clinic=clinic_b, study_id="B-001")
    for _ in range(3):
        _raise(elsewhere, data_manager)
    page_a = _worklist(client, nurse_a)
    assert page_a.count("data-open-queries") == 1 and ">3 open<" not in page_a
    page_b = _worklist(client, nurse_b, "B")
    assert ">3 open<" in _row(page_b, "B-001") and ">2 open<" not in page_b


def test_open_queries_badge_leads_to_the_clinics_open_queries(client, nurse_a, with_queries):
    page = _worklist(client, nurse_a)
    url = _href(_row(page, "A-001"), "data-open-queries")
    assert url == reverse("dataqueries:list") + "?status=open&clinic=A"
    listed = _page(client, nurse_a, url)
    assert "Two or three sites, please check?" in listed and "Consent version?" not in listed


def test_researcher_worklist_has_no_queries_column(client, researcher, with_queries):
    page = _worklist(client, researcher)
    assert "Open queries" not in page and "data-open-queries" not in page


def test_worklist_marks_signed_off_records(client, nurse_a, data_manager, make_patient,
                                           make_administration):
    signed = make_patient(study_id="A-001")
    make_patient(study_id="A-002")
    make_administration(signed)
    record_sign_off(patient=signed, by=data_manager)
    page = _worklist(client, nurse_a)
    assert "signed off" in _row(page, "A-001")
    assert "signed off" not in _row(page, "A-002")


def test_worklist_counts_forms_awaiting_keying_and_links_the_clinics_keying_page(
        client, nurse_a, data_manager, clinic_a, make_patient, make_administration):
    keying_setting_update(mode="all", fraction=0.1, seed="s", by=data_manager)
    for study_id in ("A-001", "A-002"):
        make_administration(make_patient(study_id=study_id))
    page = _worklist(client, nurse_a)
    assert "2 forms await a second keying" in page
    url = _keying_link(page)
    assert url == reverse("questionnaires:keying_clinic", args=["A"])
    assert "A-001" in _page(client, nurse_a, url)


def _keying_link(page: str) -> str:
    line = page[page.index("data-keying-tasks"):]
    return unescape(re.search(r'href="([^"]+)"', line).group(1))


def test_worklist_says_nothing_of_keying_when_no_form_waits(client, nurse_a, make_patient,
                                                            make_administration):
    make_administration(make_patient())
    assert "data-keying-tasks" not in _worklist(client, nurse_a)


def test_differences_to_settle_are_counted_apart(client, nurse_a, data_manager, clinic_a,
                                                 make_patient, make_administration):
    keying_setting_update(mode="all", fraction=0.1, seed="s", by=data_manager)
    administration = make_administration(make_patient())
    second = make_user("nurse_a2", [clinic_a], "nurse")
    second_keying_submit(administration=administration, by=second, pih_form_version="current",
                         administered_on=administration.administered_on,
                         answers=full_answers() | {"bpi_now": 9})
    page = _worklist(client, nurse_a)
    assert "1 form has differences to settle" in page and "await" not in page[
        page.index("data-keying-tasks"):page.index("</p>", page.index("data-keying-tasks"))]


def test_data_manager_gets_the_clinic_sign_off_link_and_nurse_does_not(client, nurse_a,
                                                                       data_manager,
                                                                       clinic_a):
    url = reverse("patients:clinic_sign_off", args=["A"])
    assert url in _worklist(client, data_manager)
    _page(client, data_manager, url)
    assert url not in _worklist(client, nurse_a)


# -- the record ------------------------------------------------------------------------------

def test_record_lists_the_patients_queries_with_status_and_links(client, nurse_a,
                                                                 with_queries):
    queried, _ = with_queries
    page = _record(client, nurse_a, "A-001")
    panel = page[page.index('id="data-queries"'):page.index("</section>",
                                                            page.index('id="data-queries"'))]
    assert "Two or three sites, please check?" in panel and "Consent version?" in panel
    assert "3 of 3 not closed" in panel
    assert "Answered: awaiting the data manager" in panel
    for query in queried.queries.all():
        url = reverse("dataqueries:detail", args=[query.pk])
        assert url in panel
    assert query.text in _page(client, nurse_a, url)
    assert "Raise a query" not in panel  # nurses answer, data managers raise


def test_record_of_another_patient_shows_none_of_these_queries(client, nurse_a, with_queries):
    page = _record(client, nurse_a, "A-002")
    assert "No data queries on this record." in page and "Two or three sites" not in page


def test_closed_queries_come_after_unclosed_ones(client, nurse_a, data_manager,
                                                 with_queries):
    queried, _ = with_queries
    first = queried.queries.order_by("pk").first()
    query_close(query=first, by=data_manager, outcome=QueryStatus.RESOLVED)
    page = _record(client, nurse_a, "A-001")
    assert "2 of 3 not closed" in page
    assert page.index("Closed: resolved") > page.index("Answered: awaiting")


def test_researcher_record_has_no_queries_panel(client, researcher, with_queries):
    page = _record(client, researcher, "A-001")
    assert "Data queries" not in page and "Two or three sites" not in page


def test_data_manager_raises_a_query_with_the_patient_filled_in(client, data_manager,
                                                                with_queries):
    page = _record(client, data_manager, "A-002")
    url = _href(page, ">Raise a query")
    assert url.startswith(reverse("dataqueries:raise") + "?")
    form = _page(client, data_manager, url)
    assert 'value="A-002"' in form
    assert 'name="next" value="/patients/A-002/"' in form


def test_nurse_sees_who_signed_the_record_off_and_no_unlock(client, nurse_a, data_manager,
                                                            make_patient,
                                                            make_administration):
    patient = make_patient()
    make_administration(patient)
    record_sign_off(patient=patient, by=data_manager)
    page = _record(client, nurse_a, patient.study_id)
    assert "Signed off by data_manager on" in page
    assert "the record is read-only until a data manager unlocks it" in page
    assert reverse("patients:sign_off", args=[patient.study_id]) not in page


def test_data_manager_unlocks_a_signed_off_record_from_its_page(client, data_manager,
                                                                make_patient,
                                                                make_administration):
    patient = make_patient()
    make_administration(patient)
    record_sign_off(patient=patient, by=data_manager)
    page = _record(client, data_manager, patient.study_id)
    url = _href(page, ">Unlock the record")
    assert url == reverse("patients:sign_off", args=[patient.study_id])
    assert reverse("patients:unlock", args=[patient.study_id]) in _page(client, data_manager,
                                                                         url)


def test_data_manager_is_told_what_stops_the_sign_off(client, data_manager, with_queries,
                                                      make_administration):
    queried, _ = with_queries
    make_administration(queried)
    page = _record(client, data_manager, "A-001")
    blockers = page[page.index("data-sign-off-blockers"):]
    assert "<li>3 open data queries</li>" in blockers
    assert "Sign off the record" not in page


def test_data_manager_signs_off_a_record_free_of_blockers(client, data_manager, make_patient,
                                                          make_administration):
    patient = make_patient()
    make_administration(patient)
    page = _record(client, data_manager, patient.study_id)
    url = _href(page, ">Sign off the record")
    assert "Sign off A-001" in _page(client, data_manager, url)


def test_nurse_is_not_shown_the_blockers(client, nurse_a, with_queries):
    page = _record(client, nurse_a, "A-001")
    assert "Not signed off" in page and "data-sign-off-blockers" not in page


@pytest.fixture
def chosen(data_manager, make_patient, make_administration):
    """A baseline keyed by nurse_a, chosen for a second keying."""
    keying_setting_update(mode="all", fraction=0.1, seed="s", by=data_manager)
    return make_administration(make_patient())


def test_record_says_a_form_awaits_its_second_keying_and_links_it(client, clinic_a, chosen):
    other_nurse = make_user("nurse_a2", [clinic_a], "nurse")
    page = _record(client, other_nurse, "A-001")
    assert 'data-keying="awaiting"' in page
    assert "Unverified: awaiting a second keying" in page
    url = _href(page, ">Key it a second time")
    assert url == reverse("questionnaires:second_keying", args=["A-001", "baseline"])
    _page(client, other_nurse, url)


def test_record_links_the_differences_once_keyed_twice(client, clinic_a, nurse_a, chosen):
    second = make_user("nurse_a2", [clinic_a], "nurse")
    second_keying_submit(administration=chosen, by=second, pih_form_version="current",
                         administered_on=chosen.administered_on,
                         answers=full_answers() | {"bpi_now": 9})
    page = _record(client, nurse_a, "A-001")
    assert "Unverified: differences to settle against the paper" in page
    url = _href(page, ">Settle the differences")
    assert url == reverse("questionnaires:keying_differences", args=["A-001", "baseline"])
    _page(client, nurse_a, url)


def test_researcher_sees_the_keying_state_without_a_link(client, researcher, chosen):
    page = _record(client, researcher, "A-001")
    assert "Unverified: awaiting a second keying" in page
    assert "Key it a second time" not in page


def test_form_not_chosen_for_keying_says_nothing_of_it(client, nurse_a, make_patient,
                                                       make_administration):
    make_administration(make_patient())
    assert "data-keying=" not in _record(client, nurse_a, "A-001")


# -- query counts ----------------------------------------------------------------------------

def _queries(client, user, url) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_record_queries_do_not_grow_with_the_patients_queries(client, nurse_a, data_manager,
                                                              with_queries):
    queried, _ = with_queries
    url = reverse("patients:detail", args=["A-001"])
    before = _queries(client, nurse_a, url)
    for i in range(10):
        _raise(queried, data_manager, text=f"Question {i}")
    assert _queries(client, nurse_a, url) == before


def test_worklist_queries_do_not_grow_with_queries_sign_offs_and_keying(
        client, nurse_a, data_manager, make_patient, make_administration):
    url = reverse("clinics:worklist", args=["A"])
    keying_setting_update(mode="all", fraction=0.1, seed="s", by=data_manager)
    first = make_patient()
    make_administration(first)
    _raise(first, data_manager)
    before = _queries(client, nurse_a, url)
    for _ in range(5):
        patient = make_patient()
        make_administration(patient)
        _raise(patient, data_manager)
    keying_setting_update(mode="off", fraction=0.1, seed="s", by=data_manager)
    for _ in range(3):
        patient = make_patient()
        make_administration(patient)
        record_sign_off(patient=patient, by=data_manager)
    page = client.get(url).content.decode()
    assert page.count("data-open-queries") == 6 and page.count("data-signed-off") == 3
    assert _queries(client, nurse_a, url) == before


def test_data_manager_record_queries_do_not_grow_with_the_blockers(client, data_manager,
                                                                  with_queries):
    queried, _ = with_queries
    url = reverse("patients:detail", args=["A-001"])
    before = _queries(client, data_manager, url)
    for i in range(10):
        _raise(queried, data_manager, text=f"Question {i}")
    page = client.get(url).content.decode()
    assert "<li>13 open data queries</li>" in page
    assert _queries(client, data_manager, url) == before


# -- navigation ------------------------------------------------------------------------------

def _nav(client, user) -> str:
    client.force_login(user)
    page = client.get(reverse("clinics:list"), follow=True).content.decode()
    return page.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]


def test_nurse_navigation_has_queries_but_not_keying(client, nurse_a):
    nav = _nav(client, nurse_a)
    assert ">Queries<" in nav and ">Keying<" not in nav
    _page(client, nurse_a, _href(nav, ">Queries"))


def test_data_manager_navigation_has_queries_and_keying(client, data_manager):
    nav = _nav(client, data_manager)
    assert ">Queries<" in nav and ">Keying<" in nav
    assert _href(nav, ">Keying") == reverse("questionnaires:keying_report")
    _page(client, data_manager, _href(nav, ">Keying"))


@pytest.mark.parametrize("role", ["researcher", "statistician"])
def test_analysts_navigation_has_neither(client, clinic_a, role):
    user = make_user(role, [clinic_a], role)
    nav = _nav(client, user)
    assert ">Queries<" not in nav and ">Keying<" not in nav
