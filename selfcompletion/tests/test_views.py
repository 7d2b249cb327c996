"""The patient pages (link and tablet) and the staff actions, through the test client,
including every fault: tampered, expired, used, withdrawn, guessed, abandoned and resumed,
a tablet left idle, and leaving patient mode without the password."""
from __future__ import annotations

import datetime as dt
import time

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patients.services import patient_withdraw
from questionnaires.models import Administration, AdministrationSource
from selfcompletion import patient_mode
from selfcompletion.models import Invitation
from selfcompletion.services import link_code
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _part(token: str, number: int) -> str:
    return f"{reverse('selfcompletion:link_part', args=[token])}?part={number}"


def _tablet_part(number: int) -> str:
    return f"{reverse('selfcompletion:tablet_part')}?part={number}"


def _answer_part(client: Client, url: str, answers: dict) -> None:
    response = client.post(url, {**{k: str(v) for k, v in answers.items()}, "action": "next"})
    assert response.status_code == 302, response.content[:500]


def _instrument_answers(answers: dict, prefix: str) -> dict:
    return {code: value for code, value in answers.items() if code.startswith(prefix)}


def _reveals_nothing(response, patient) -> None:
    text = response.content.decode()
    assert patient.study_id not in text
    assert patient.clinic.name not in text and "Clinic" not in text


def test_link_journey_abandon_resume_submit_and_reuse(link, due_patient, every_answer):
    invitation, token = link
    phone = Client()
    landing = phone.get(f"/p/{token}/")
    assert landing.status_code == 200 and b"Start" in landing.content
    _reveals_nothing(landing, due_patient)
    assert "no-store" in landing["Cache-Control"]
    _answer_part(phone, _part(token, 1), _instrument_answers(every_answer, "bpi"))
    # The browser is closed: a new one with the same link resumes at part 2.
    resumed = Client().get(f"/p/{token}/")
    assert b"Welcome back" in resumed.content
    assert _part(token, 2).replace("&", "&amp;").encode() in resumed.content
    page2 = phone.get(_part(token, 2))
    assert b"Part 2 of 3" in page2.content
    _answer_part(phone, _part(token, 2), _instrument_answers(every_answer, "ppic"))
    _answer_part(phone, _part(token, 3), {**_instrument_answers(every_answer, "pih"),
                                          "pih_12": "skip"})
    review = phone.get(reverse("selfcompletion:link_review", args=[token]))
    assert b"Check your answers" in review.content and b"Prefer not to answer" in review.content
    sent = phone.post(reverse("selfcompletion:link_review", args=[token]))
    assert sent.status_code == 302 and sent["Location"] == f"/p/{token}/"
    administration = Administration.objects.get(patient=due_patient, timepoint="followup")
    assert administration.source == AdministrationSource.LINK and administration.is_complete
    assert administration.pih_12 is None
    invitation.refresh_from_db()
    assert invitation.opened_at and invitation.submitted_at
    reused = Client().get(f"/p/{token}/")
    assert b"Your answers have been sent" in reused.content
    again = phone.post(reverse("selfcompletion:link_review", args=[token]))
    assert b"have been sent" in again.content  # the used page, nothing stored again
    assert Administration.objects.filter(timepoint="followup").count() == 1
    assert b"have been sent" in phone.get(_part(token, 1)).content


def test_a_tampered_link_gets_a_clear_page_that_reveals_nothing(link, due_patient):
    _, token = link
    tampered = token[:10] + ("x" if token[10] != "x" else "y") + token[11:]
    response = Client().get(f"/p/{tampered}/")
    assert response.status_code == 404 and b"This link does not work" in response.content
    _reveals_nothing(response, due_patient)


def test_an_expired_link_reveals_nothing(link, due_patient):
    invitation, token = link
    Invitation.objects.filter(pk=invitation.pk).update(
        valid_until=timezone.localdate() - dt.timedelta(days=1))
    response = Client().get(_part(token, 1))
    assert response.status_code == 410 and b"expired" in response.content
    _reveals_nothing(response, due_patient)


def test_withdrawn_patient_link_says_no_longer_needed(link, due_patient, nurse_a):
    _, token = link
    patient_withdraw(patient=due_patient, withdrawn_on=timezone.localdate(), reason="",
                     keep_collected_data=True, by=nurse_a)
    response = Client().get(f"/p/{token}/")
    assert b"no longer needed" in response.content
    _reveals_nothing(response, due_patient)
    posted = Client().post(_part(token, 1), {"bpi_worst": "3"})
    assert posted.status_code == 410
    assert Invitation.objects.get().draft == {}


def test_guessing_is_rate_limited_per_address(link):
    _, token = link
    guesser = Client(REMOTE_ADDR="203.0.113.9")
    for attempt in range(10):
        assert guesser.get(f"/p/guess{attempt:040d}/").status_code == 404
    assert guesser.get(f"/p/{token}/").status_code == 429  # even the right link, for now
    assert guesser.post("/p/", {"code": "ABCDE-FGHJK"}).status_code == 429
    assert Client(REMOTE_ADDR="198.51.100.1").get(f"/p/{token}/").status_code == 200


def test_wrong_codes_count_towards_the_limit_and_a_right_code_opens_the_link(link):
    invitation, token = link
    typist = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(9):
        wrong = typist.post("/p/", {"code": "ABCDE-FGHJK"})
        assert wrong.status_code == 400 and b"could not find" in wrong.content
    code = link_code(invitation)
    opened = typist.post("/p/", {"code": f"{code[:5].lower()} {code[5:]}"})
    assert opened.status_code == 302 and opened["Location"] == f"/p/{token}/"
    typist.post("/p/", {"code": "ABCDE-FGHJK"})
    assert typist.get("/p/").status_code == 429


def test_sending_no_answers_at_all_is_refused_and_the_link_stays_open(link):
    invitation, token = link
    response = Client().post(reverse("selfcompletion:link_review", args=[token]))
    assert response.status_code == 400 and b"at least one question" in response.content
    invitation.refresh_from_db()
    assert invitation.submitted_at is None
    assert not Administration.objects.filter(timepoint="followup").exists()


def test_the_change_history_names_the_patient_as_the_source(client, nurse_a, link,
                                                            every_answer):
    from selfcompletion.services import invitation_draft_save, invitation_submit

    invitation, _ = link
    invitation_draft_save(invitation=invitation, answers=every_answer)
    invitation_submit(invitation=invitation)
    client.force_login(nurse_a)
    history = client.get(reverse("patients:history", args=[invitation.patient.study_id]))
    assert b"completed by the patient (one-time link)" in history.content


def test_a_forged_answer_is_refused_and_nothing_is_saved(link):
    _, token = link
    response = Client().post(_part(token, 1), {"bpi_worst": "11", "bpi_least": "2"})
    assert response.status_code == 400
    assert Invitation.objects.get().draft == {}


def test_the_link_page_offers_stop_reminders_when_reminders_exist(link):
    _, token = link
    try:
        stop = reverse("reminders:stop", kwargs={"token": token})
    except Exception:  # noqa: BLE001  (reminders not installed yet: nothing to offer)
        pytest.skip("no reminders:stop URL")
    assert stop.encode() in Client().get(f"/p/{token}/").content


# -- staff actions and the card ---------------------------------------------------------------

def test_nurse_invites_and_prints_a_card_with_qr_and_code(client, nurse_a, due_patient):
    client.force_login(nurse_a)
    record = client.get(reverse("patients:detail", args=[due_patient.study_id]))
    assert b"Invite to complete at home" in record.content and b"Hand to patient" in record.content
    response = client.post(reverse("selfcompletion:invite", args=[due_patient.study_id]))
    invitation = Invitation.objects.get()
    assert response["Location"] == reverse("selfcompletion:card", args=[due_patient.study_id])
    card = client.get(response["Location"])
    code = link_code(invitation)
    assert b"<svg" in card.content and f"{code[:5]}-{code[5:]}".encode() in card.content
    record = client.get(reverse("patients:detail", args=[due_patient.study_id]))
    assert b"not opened yet" in record.content


def test_only_the_patients_clinic_edits_or_prints(client, nurse_b, researcher, link):
    invitation, _ = link
    card = reverse("selfcompletion:card", args=[invitation.patient.study_id])
    client.force_login(nurse_b)
    assert client.get(card).status_code == 404
    client.force_login(researcher)
    assert client.get(card).status_code == 403
    assert client.post(reverse("selfcompletion:invite",
                               args=[invitation.patient.study_id])).status_code == 403


def test_nurse_confirms_the_patients_answers(client, nurse_a, link, every_answer):
    from selfcompletion.services import invitation_draft_save, invitation_submit

    invitation, _ = link
    invitation_draft_save(invitation=invitation, answers=every_answer)
    administration = invitation_submit(invitation=invitation)
    client.force_login(nurse_a)
    record = client.get(reverse("patients:detail", args=[invitation.patient.study_id]))
    assert b"not yet checked" in record.content
    client.post(reverse("questionnaires:confirm", args=[invitation.patient.study_id,
                                                       "followup"]))
    administration.refresh_from_db()
    assert administration.checked_by == nurse_a


# -- the tablet -------------------------------------------------------------------------------

@pytest.fixture
def tablet(client, nurse_a, make_patient):
    """A nurse's session handed to a new patient for the baseline questionnaire."""
    patient = make_patient()
    client.force_login(nurse_a)
    response = client.post(reverse("selfcompletion:hand_to_patient",
                                   args=[patient.study_id, "baseline"]))
    assert response["Location"] == reverse("selfcompletion:tablet")
    return client, patient


def test_tablet_journey_records_a_tablet_administration(tablet, every_answer, nurse_a):
    client, patient = tablet
    welcome = client.get(reverse("selfcompletion:tablet"))
    assert b"Start" in welcome.content and patient.study_id.encode() not in welcome.content
    for number, prefix in enumerate(("bpi", "ppic", "pih"), start=1):
        _answer_part(client, _tablet_part(number),
                     _instrument_answers(every_answer, prefix))
    sent = client.post(reverse("selfcompletion:tablet_review"))
    assert sent["Location"] == reverse("selfcompletion:tablet_done")
    administration = Administration.objects.get(patient=patient)
    assert administration.source == AdministrationSource.TABLET and administration.is_complete
    assert administration.entered_by == nurse_a and administration.awaits_check


@pytest.mark.parametrize("url", ["/", "/patients/A-001/", "/clinics/A/worklist/", "/admin/",
                                 "/analysis/", "/questionnaires/A-001/baseline/",
                                 "/p/ended/x/"])
def test_patient_mode_reaches_nothing_else(tablet, url):
    client, _ = tablet
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == "/p/tablet/"


def test_patient_mode_cannot_sign_out_or_post_elsewhere(tablet):
    client, patient = tablet
    assert client.post("/accounts/logout/")["Location"] == "/p/tablet/"
    assert client.post(reverse("selfcompletion:invite", args=[patient.study_id])
                       )["Location"] == "/p/tablet/"
    assert client.get(reverse("selfcompletion:tablet")).status_code == 200


def test_leaving_patient_mode_needs_the_nurses_password(tablet):
    client, patient = tablet
    exit_url = reverse("selfcompletion:tablet_exit")
    wrong = client.post(exit_url, {"password": "guess"})
    assert wrong.status_code == 400
    assert client.get(f"/patients/{patient.study_id}/")["Location"] == "/p/tablet/"
    right = client.post(exit_url, {"password": PASSWORD})
    assert right["Location"] == f"/patients/{patient.study_id}/"
    assert client.get(f"/patients/{patient.study_id}/").status_code == 200


def test_an_idle_patient_mode_times_out_to_a_neutral_page(tablet, every_answer):
    client, patient = tablet
    _answer_part(client, _tablet_part(1),
                 _instrument_answers(every_answer, "bpi"))
    session = client.session
    state = session[patient_mode.SESSION_KEY]
    session[patient_mode.SESSION_KEY] = {**state, "last_seen": time.time() - 15 * 60 - 1}
    session.save()
    response = client.get(_tablet_part(2), follow=True)
    assert response.redirect_chain[-1][0] == reverse("selfcompletion:ended")
    assert b"This session has ended" in response.content
    _reveals_nothing(response, patient)
    # Signed out: no way back to the questionnaire or the record.
    assert client.get(reverse("selfcompletion:tablet"))["Location"] == "/p/ended/"
    assert client.get(f"/patients/{patient.study_id}/")["Location"].startswith("/accounts/login/")
    # The answers given are kept: the nurse's next hand-over resumes them.
    assert Invitation.objects.get().draft["bpi_worst"] == every_answer["bpi_worst"]


def test_a_new_hand_over_resumes_todays_unfinished_one(tablet, every_answer, nurse_a):
    client, patient = tablet
    _answer_part(client, _tablet_part(1),
                 _instrument_answers(every_answer, "bpi"))
    client.post(reverse("selfcompletion:tablet_exit"), {"password": PASSWORD})
    client.post(reverse("selfcompletion:hand_to_patient", args=[patient.study_id, "baseline"]))
    assert Invitation.objects.count() == 1
    welcome = client.get(reverse("selfcompletion:tablet"))
    assert b"Welcome back" in welcome.content


def test_no_hand_over_for_a_withdrawn_patient(client, nurse_a, due_patient):
    patient_withdraw(patient=due_patient, withdrawn_on=timezone.localdate(), reason="",
                     keep_collected_data=True, by=nurse_a)
    client.force_login(nurse_a)
    response = client.post(reverse("selfcompletion:hand_to_patient",
                                   args=[due_patient.study_id, "followup"]), follow=True)
    assert b"no further data collection" in response.content
    assert patient_mode.SESSION_KEY not in client.session


def test_tablet_pages_without_patient_mode_show_the_neutral_page(client, nurse_a):
    client.force_login(nurse_a)
    assert client.get(reverse("selfcompletion:tablet"))["Location"] == "/p/ended/"
    assert Client().get(reverse("selfcompletion:tablet_review"))["Location"] == "/p/ended/"
