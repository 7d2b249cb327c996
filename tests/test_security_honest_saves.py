"""No response lies about a write (issue 15, item 2).

Every after-commit hook is found twice: in the source (every `on_commit` call must be
robust, so that a failing hook is logged and the request still answers), and by running
enrolment, a save, a correction and a link questionnaire while recording the hooks they
register; then each recorded hook in turn is made to raise, and every request must still
succeed and store its data. A fault before the commit gets the 500 page that says nothing
was saved; a fault after the commit gets the page that says the changes were saved.
"""
from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patients.models import Patient
from questionnaires.models import Administration
from tests.factories import full_answers

pytestmark = pytest.mark.django_db(transaction=True)

TODAY = timezone.localdate()
APPS = ("core", "clinics", "patients", "questionnaires", "selfcompletion", "reminders",
        "analysis")


def _on_commit_calls():
    for app in APPS:
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "on_commit"):
                    yield path, node


def test_every_after_commit_hook_in_the_source_is_robust():
    calls = list(_on_commit_calls())
    assert calls, "the live-count bump is one: the search finds nothing"
    fragile = [f"{path}:{node.lineno}" for path, node in calls
               if not any(k.arg == "robust" and isinstance(k.value, ast.Constant)
                          and k.value.value is True for k in node.keywords)]
    assert fragile == []


def _enrol(client):
    return client.post(reverse("patients:enrol", args=["A"]), {
        "consent_given": "on", "consented_on": TODAY.isoformat(),
        "consent_form_version": "v1.2", "consent_taken_by": "Sister Jones"}, follow=True)


def _entry(client, answers: dict, **extra):
    from questionnaires.tests.entry_helpers import entry_data

    study_id = extra.pop("study_id")
    return client.post(reverse("questionnaires:entry", args=[study_id, "baseline"]),
                       entry_data(answers, administered_on=TODAY, **extra), follow=True)


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def _link_submitted(token: str) -> bool:
    phone = Client()
    answers = full_answers(bpi=3, ppic=5, pih=7)
    for number, prefix in enumerate(("bpi", "ppic", "pih"), start=1):
        part = f"{reverse('selfcompletion:link_part', args=[token])}?part={number}"
        phone.post(part, {**{k: str(v) for k, v in answers.items() if k.startswith(prefix)},
                          "action": "next"})
    sent = phone.post(reverse("selfcompletion:link_review", args=[token]), follow=True)
    return sent.redirect_chain[0][1] == 302 and b"Your answers have been sent" in sent.content


def _every_write_succeeds(nurse, make_patient, make_administration) -> None:
    """Enrol, save, correct (through the nurse's pages), send a link: each says so and
    is stored."""
    from selfcompletion.services import followup_link_ensure

    client = Client()
    client.force_login(nurse)
    enrolled = _messages(_enrol(client))
    assert " enrolled." in enrolled
    patient = Patient.objects.get(study_id=enrolled.split(" ")[0])
    first = _entry(client, full_answers(), study_id=patient.study_id)
    assert "saved as complete" in _messages(first)
    saved = Administration.objects.get(patient=patient)
    corrected = _entry(client, full_answers() | {"bpi_worst": 9},
                       base_version=saved.version, reason="keying error",
                       study_id=patient.study_id)
    assert "saved as complete" in _messages(corrected)
    saved.refresh_from_db()
    assert saved.bpi_worst == 9

    due = make_patient(consented_on=TODAY - dt.timedelta(days=100))
    make_administration(due)
    _, path = followup_link_ensure(patient=due, by=nurse)
    assert _link_submitted(path.strip("/").split("/")[-1])
    assert Administration.objects.filter(patient=due, timepoint="followup").exists()


def _hook_name(func) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"


def _recorded_hooks(monkeypatch, run) -> set[str]:
    hooks: set[str] = set()
    real = BaseDatabaseWrapper.on_commit

    def record(self, func, robust=False):
        hooks.add(_hook_name(func))
        return real(self, func, robust)

    with monkeypatch.context() as patch:
        patch.setattr(BaseDatabaseWrapper, "on_commit", record)
        run()
    return hooks


# Every hook the writes register; the recording test fails when a new one appears.
HOOKS = ["analysis.pages.live_counts._bump",
         "core.middleware.HonestErrorMiddleware.__call__.<locals>.observe.<locals>.<lambda>"]


def test_the_writes_register_only_the_listed_hooks(monkeypatch, nurse_a, make_patient,
                                                   make_administration):
    hooks = _recorded_hooks(monkeypatch, lambda: _every_write_succeeds(
        nurse_a, make_patient, make_administration))
    assert hooks == set(HOOKS)


@pytest.mark.parametrize("failing", HOOKS)
def test_each_after_commit_hook_failing_in_turn_fails_no_request(
        monkeypatch, nurse_a, make_patient, make_administration, failing):
    real = BaseDatabaseWrapper.on_commit

    def broken(self, func, robust=False):
        if _hook_name(func) == failing:
            def func():
                raise RuntimeError(f"{failing} fails after the commit")
        return real(self, func, robust)

    monkeypatch.setattr(BaseDatabaseWrapper, "on_commit", broken)
    _every_write_succeeds(nurse_a, make_patient, make_administration)


def test_a_fault_before_the_commit_says_nothing_was_saved(monkeypatch, nurse_a, make_patient):
    make_patient()

    def refuse(**kwargs):
        raise RuntimeError("fault before anything is stored")

    monkeypatch.setattr("questionnaires.views.administration_save", refuse)
    client = Client(raise_request_exception=False)
    client.force_login(nurse_a)
    response = _entry_raw(client, full_answers())
    assert response.status_code == 500
    assert b"Nothing was saved" in response.content
    assert b"were saved" not in response.content
    assert not Administration.objects.exists()


def test_a_fault_after_the_commit_says_the_changes_were_saved(monkeypatch, nurse_a,
                                                             make_patient):
    make_patient()

    def fails(saved):
        raise RuntimeError("fault after the save committed")

    monkeypatch.setattr("questionnaires.views._saved_message", fails)
    client = Client(raise_request_exception=False)
    client.force_login(nurse_a)
    response = _entry_raw(client, full_answers())
    assert response.status_code == 500
    assert b"Your changes were saved" in response.content
    assert b"Nothing was saved" not in response.content
    assert Administration.objects.get().is_complete


def test_a_failing_read_page_says_nothing_was_saved(monkeypatch, nurse_a, make_patient,
                                                   make_administration):
    """Reading a record writes its access-log row: that is not a save of the user's."""
    from patients.models import PatientAccessLog
    from questionnaires.tests.entry_helpers import entry_url

    patient = make_patient()
    make_administration(patient)

    def fails(*args, **kwargs):
        raise RuntimeError("fault while showing the page")

    monkeypatch.setattr("questionnaires.views.score_rows", fails)
    client = Client(raise_request_exception=False)
    client.force_login(nurse_a)
    logged = PatientAccessLog.objects.count()
    response = client.get(entry_url(patient))
    assert response.status_code == 500
    assert b"Nothing was saved" in response.content
    assert PatientAccessLog.objects.count() == logged + 1  # the read was logged all the same


def _entry_raw(client, answers: dict):
    from questionnaires.tests.entry_helpers import entry_data

    return client.post(reverse("questionnaires:entry", args=["A-001", "baseline"]),
                       entry_data(answers, administered_on=TODAY))
