"""Patients completing their own questionnaire in a real browser, by touch: the clinic
tablet (tablet and phone viewports) and the one-time link (phone), with axe-core on every
patient-facing page (no serious or critical violation)."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from questionnaires.instruments import INSTRUMENTS
from questionnaires.models import Administration
from selfcompletion.services import followup_link_ensure, link_code
from tests.browser.pages import PHONE, TABLET, answer_part, axe_check, sign_in
from tests.factories import PASSWORD, enrol_patient, full_answers, save_administration

pytestmark = pytest.mark.django_db(transaction=True)

ANSWERS = full_answers(bpi=6, ppic=4, pih=5)


def _answer_part(page, instrument, *, skip: frozenset[str] = frozenset()) -> None:
    answer_part(page, instrument, ANSWERS, skip=skip)


@pytest.mark.parametrize("device", [TABLET, PHONE], ids=["tablet", "phone"])
def test_tablet_journey_by_touch(live_server, new_page, nurse_a, clinic_a, device):
    patient = enrol_patient(clinic=clinic_a, by=nurse_a)
    page = new_page(device)
    sign_in(page, live_server, nurse_a)
    page.goto(f"{live_server.url}/patients/{patient.study_id}/")
    page.get_by_role("button", name="Hand to patient (Baseline)").tap()
    expect(page).to_have_url(re.compile(r"/p/tablet/$"))
    axe_check(page)
    page.get_by_role("link", name="Start").tap()
    for number, instrument in enumerate(INSTRUMENTS, start=1):
        expect(page.get_by_text(f"Part {number} of 3", exact=True)).to_be_visible()
        expect(page.get_by_text("Demo wording.")).to_be_visible()
        axe_check(page)
        _answer_part(page, instrument, skip=frozenset({"bpi_now"}) if number == 1 else
                     frozenset())
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your answers")
    axe_check(page)
    # The patient cannot wander off: the record's address brings the questionnaire back.
    page.goto(f"{live_server.url}/patients/{patient.study_id}/")
    expect(page).to_have_url(re.compile(r"/p/tablet/$"))
    page.goto(f"{live_server.url}/p/tablet/review/")
    page.get_by_role("button", name="Send my answers").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    axe_check(page)
    stored = Administration.objects.get(patient=patient)
    assert (stored.source, stored.status, stored.bpi_now, stored.bpi_worst) == (
        "tablet", "complete", None, 6)

    page.get_by_role("link", name="Staff: return to staff mode").tap()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Staff only")
    axe_check(page)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Return to staff mode").tap()
    expect(page.get_by_role("alert")).to_contain_text("not right")
    axe_check(page)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Return to staff mode").tap()
    expect(page.get_by_role("heading", level=1)).to_contain_text(patient.study_id)
    expect(page.get_by_text("not yet checked")).to_be_visible()
    page.get_by_role("button", name="Confirm checked Baseline").tap()
    expect(page.get_by_role("status").first).to_contain_text("confirmed as checked")
    stored.refresh_from_db()
    assert stored.checked_by == nurse_a


def test_link_journey_on_a_phone_abandoned_and_resumed(live_server, new_page, nurse_a,
                                                       clinic_a):
    patient = enrol_patient(clinic=clinic_a, by=nurse_a,
                            consented_on=timezone.localdate() - dt.timedelta(days=95))
    save_administration(patient, by=nurse_a)
    invitation, path = followup_link_ensure(patient=patient, by=nurse_a)
    code = link_code(invitation)

    phone = new_page(PHONE)
    phone.goto(f"{live_server.url}/p/")
    axe_check(phone)
    phone.get_by_label("Code").fill("WRONG-CODE2")
    phone.get_by_role("button", name="Continue").tap()
    expect(phone.get_by_role("alert")).to_contain_text("could not find")
    axe_check(phone)
    phone.get_by_label("Code").fill(f"{code[:5].lower()} {code[5:]}")
    phone.get_by_role("button", name="Continue").tap()
    expect(phone).to_have_url(f"{live_server.url}{path}")
    axe_check(phone)
    phone.get_by_role("link", name="Start").tap()
    expect(phone.get_by_text("Part 1 of 3", exact=True)).to_be_visible()
    axe_check(phone)
    _answer_part(phone, INSTRUMENTS[0])
    expect(phone.get_by_text("Part 2 of 3", exact=True)).to_be_visible()
    phone.context.close()  # the patient closes the browser half-way

    again = new_page(PHONE)
    again.goto(f"{live_server.url}{path}")
    expect(again.get_by_role("heading", level=1)).to_have_text("Welcome back")
    again.get_by_role("link", name="Continue").tap()
    expect(again.get_by_text("Part 2 of 3", exact=True)).to_be_visible()
    for instrument in INSTRUMENTS[1:]:
        axe_check(again)
        _answer_part(again, instrument)
    axe_check(again)
    again.get_by_role("button", name="Send my answers").tap()
    expect(again.get_by_role("heading", level=1)).to_have_text("Thank you")
    axe_check(again)
    stored = Administration.objects.get(patient=patient, timepoint="followup")
    assert (stored.source, stored.status, stored.bpi_worst) == ("link", "complete", 6)
    assert patient.study_id not in again.content()

    # The same link again, and a tampered one: clear pages that reveal nothing.
    again.goto(f"{live_server.url}{path}")
    expect(again.get_by_role("heading", level=1)).to_have_text("Thank you")
    again.goto(f"{live_server.url}{path[:-3]}zz/")
    expect(again.get_by_role("heading", level=1)).to_have_text("This link does not work")
    axe_check(again)
    again.goto(f"{live_server.url}/p/ended/")
    axe_check(again)


def test_fault_pages_on_a_phone_are_clear_and_accessible(live_server, new_page, nurse_a,
                                                         clinic_a):
    from patients.services import patient_withdraw
    from selfcompletion.models import Invitation

    links = []
    for _ in range(2):
        patient = enrol_patient(clinic=clinic_a, by=nurse_a,
                                consented_on=timezone.localdate() - dt.timedelta(days=95))
        save_administration(patient, by=nurse_a)
        links.append(followup_link_ensure(patient=patient, by=nurse_a))
    (expired, expired_path), (withdrawn, withdrawn_path) = links
    Invitation.objects.filter(pk=expired.pk).update(
        valid_until=timezone.localdate() - dt.timedelta(days=1))
    patient_withdraw(patient=withdrawn.patient, withdrawn_on=timezone.localdate(), reason="",
                     keep_collected_data=True, by=nurse_a)
    phone = new_page(PHONE)
    for path, heading in ((expired_path, "This link has expired"),
                          (withdrawn_path, "This questionnaire is no longer needed")):
        phone.goto(f"{live_server.url}{path}")
        expect(phone.get_by_role("heading", level=1)).to_have_text(heading)
        assert expired.patient.study_id not in phone.content()
        assert withdrawn.patient.study_id not in phone.content()
        axe_check(phone)
    for attempt in range(10):
        phone.goto(f"{live_server.url}/p/{'x' * 42}{attempt}/")
    response = phone.goto(f"{live_server.url}{expired_path}")
    assert response.status == 429
    expect(phone.get_by_role("heading", level=1)).to_have_text("Too many tries")
    axe_check(phone)
