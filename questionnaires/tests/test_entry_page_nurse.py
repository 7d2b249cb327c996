"""The entry page as a nurse reads it (issue 14): the correction reason's label and
required-ness agree, and "Complete" on an empty form gives one summary line per instrument."""
from __future__ import annotations

import re

import pytest

from questionnaires.instruments import BPI, PIH, PPIC
from questionnaires.models import Administration
from tests.factories import full_answers

from .entry_helpers import entry_data, entry_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def nurse_client(client, nurse_a):
    client.force_login(nurse_a)
    return client


def _summary_lines(page: str) -> list[str]:
    summary = re.search(r'<ul class="error-summary__list">(.*?)</ul>', page, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", line).strip()
            for line in re.findall(r"<li>(.*?)</li>", summary, re.S)]


def _reason_label(page: str) -> str:
    return re.search(r'<label class="field__label" for="id_reason">(.*?)</label>', page,
                     re.S).group(1)


def test_correction_reason_label_is_not_optional_and_reason_is_required(
        nurse_client, make_patient, make_administration):
    patient = make_patient()
    admin = make_administration(patient)
    page = nurse_client.get(entry_url(patient)).content.decode()
    assert "optional" not in _reason_label(page)

    response = nurse_client.post(entry_url(patient), entry_data(
        full_answers() | {"bpi_worst": 9}, administered_on=patient.consented_on,
        base_version=admin.version))
    lines = _summary_lines(response.content.decode())
    assert lines == ["Reason for the change: Give a reason for changing a completed "
                     "administration."]
    admin.refresh_from_db()
    assert admin.bpi_worst == 5


def test_complete_on_an_empty_form_gives_one_line_per_instrument(nurse_client, make_patient):
    patient = make_patient()
    response = nurse_client.post(entry_url(patient), entry_data(
        {}, administered_on=patient.consented_on))
    page = response.content.decode()
    lines = _summary_lines(page)
    assert [line.split(":")[0] for line in lines] == ["BPI", "PPiC", "PIH"]
    assert lines[0].startswith(f"BPI: {len(BPI.items)} items not answered")
    assert lines[1].startswith(f"PPiC: {len(PPIC.items)} items not answered")
    assert lines[2].startswith(f"PIH: {len(PIH.items)} items not answered")
    # Each line links to its instrument's first item; every item still shows its own error.
    for instrument in (BPI, PPIC, PIH):
        assert f'href="#id_{instrument.items[0].code}"' in page
    assert page.count('class="field__error item__error"') == 34
    assert re.search(r"Not saved: there\s+are problems", page)
    assert not Administration.objects.exists()


def test_one_missing_item_is_counted_and_other_errors_keep_page_order(nurse_client,
                                                                      make_patient):
    patient = make_patient()
    answers = full_answers() | {"ppic_1": 0}  # out of range: its own message
    del answers["pih_7"]
    response = nurse_client.post(entry_url(patient), entry_data(
        answers, administered_on=patient.consented_on, reason=""))
    lines = _summary_lines(response.content.decode())
    assert len(lines) == 2
    assert lines[0].startswith(PPIC.items[0].label + ":")  # PPiC comes before PIH
    assert lines[1].startswith("PIH: 1 item not answered")
    assert 'href="#id_pih_7"' in response.content.decode()
