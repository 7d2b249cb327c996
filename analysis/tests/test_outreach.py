"""Follow-up completion by mode and after each reminder (analysis/pages/outreach.py):
exact counts on a hand-built cohort, a brute-force recount on a random one, a fixed number
of queries, and the dashboard section."""
from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analysis.pages.outreach import completion_by_mode, completion_by_reminder, outreach_summary
from patients.models import Patient
from questionnaires.models import Administration
from reminders.models import ReminderSend
from tests.factories import full_answers

# baselines dated before this day have a closed follow-up window (as if today were 1 Jun)
DUE_BEFORE = dt.date(2026, 2, 1)
EARLY, LATE = dt.date(2026, 1, 1), dt.date(2026, 3, 1)
LONDON = ZoneInfo("Europe/London")  # the settings' TIME_ZONE: administered_on is a local day


def utc(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


def build(clinic, spec: dict[str, dict]) -> dict[str, Patient]:
    """Patients from a spec: baseline (date, status), followup (date, status, source), sends
    [(kind, status, sent_at)]; built directly, the services are tested with their apps."""
    patients = {name: Patient.objects.create(
        clinic=clinic, study_id=f"{clinic.code}-{number:03d}", consented_on=EARLY,
        consent_form_version="v1", consent_taken_by="Nurse")
        for number, name in enumerate(spec, start=1)}
    administrations, sends = [], []
    for name, items in spec.items():
        patient = patients[name]
        for timepoint in ("baseline", "followup"):
            if timepoint in items:
                on, status, *source = items[timepoint]
                administrations.append(Administration(
                    patient=patient, timepoint=timepoint, administered_on=on, status=status,
                    source=source[0] if source else "nurse", **full_answers()))
        for kind, status, sent_at in items.get("sends", []):
            sends.append(ReminderSend(patient=patient, kind=kind, status=status, attempts=1,
                                      sent_at=sent_at if status == "sent" else None))
    Administration.objects.bulk_create(administrations)
    ReminderSend.objects.bulk_create(sends)
    return patients


HAND_BUILT = {
    # follow-up keyed by a nurse; a reminder logged after it does not count as "before"
    "p1": {"baseline": (EARLY, "complete"), "followup": (dt.date(2026, 4, 20), "complete"),
           "sends": [("before_close", "sent", utc("2026-04-25"))]},
    # tablet; a reminder at 23:30 UTC on 10 Apr is 00:30 on 11 Apr in London: after it
    "p2": {"baseline": (EARLY, "complete"),
           "followup": (dt.date(2026, 4, 10), "complete", "tablet"),
           "sends": [("window_open", "sent", utc("2026-04-01")),
                     ("week_later", "sent", utc("2026-04-10", 23)),
                     ("before_close", "skipped", None)]},
    "p3": {"baseline": (EARLY, "complete"),
           "followup": (dt.date(2026, 4, 12), "complete", "link"),
           "sends": [("window_open", "sent", utc("2026-04-01")),
                     ("week_later", "sent", utc("2026-04-08"))]},
    # a reminder the same day as completion counts as before it
    "p4": {"baseline": (EARLY, "complete"),
           "followup": (dt.date(2026, 4, 8), "complete", "link"),
           "sends": [("window_open", "sent", utc("2026-04-01")),
                     ("week_later", "sent", utc("2026-04-08", 9))]},
    # due, never followed up, sent every reminder
    "p5": {"baseline": (EARLY, "complete"),
           "sends": [("window_open", "sent", utc("2026-04-01")),
                     ("week_later", "sent", utc("2026-04-08")),
                     ("before_close", "sent", utc("2026-05-05"))]},
    # due, a part-answered follow-up from the link is not a completed one
    "p6": {"baseline": (EARLY, "complete"), "followup": (dt.date(2026, 5, 6), "draft", "link"),
           "sends": [("window_open", "sent", utc("2026-04-01")),
                     ("before_close", "sent", utc("2026-05-05"))]},
    # not yet due (window still open), completed from the link; the failed send is no reminder
    "p7": {"baseline": (LATE, "complete"),
           "followup": (dt.date(2026, 5, 20), "complete", "link"),
           "sends": [("window_open", "sent", utc("2026-05-16")),
                     ("week_later", "failed", None)]},
    # no complete baseline: in neither table (the recruitment table's rule)
    "p8": {"baseline": (EARLY, "draft"), "followup": (dt.date(2026, 4, 20), "complete")},
    "p9": {},
}


@pytest.fixture
def hand_built(clinic_a):
    return build(clinic_a, HAND_BUILT)


def test_completion_by_mode_counts_and_percents(hand_built):
    summary = completion_by_mode(due_before=DUE_BEFORE)
    rows = {row["key"]: row for row in summary["rows"]}
    assert (summary["completed"], summary["due"], summary["due_completed"]) == (5, 6, 4)
    assert [(rows[k]["completed"], rows[k]["percent"]) for k in ("nurse", "tablet", "link")] \
        == [(1, 20.0), (1, 20.0), (3, 60.0)]
    assert [(rows[k]["due_completed"], rows[k]["due_percent"])
            for k in ("nurse", "tablet", "link")] == [(1, 16.7), (1, 16.7), (2, 33.3)]
    assert summary["due_completed_percent"] == 66.7
    assert (summary["due_not_completed"], summary["due_not_completed_percent"]) == (2, 33.3)


def test_completion_after_each_reminder(hand_built):
    summary = completion_by_reminder(completed=5)   # completion_by_mode's count
    rows = {row["key"]: row for row in summary["rows"]}
    assert summary["completed"] == 5
    assert [(rows[k]["completed"], rows[k]["percent"])
            for k in ("none", "window_open", "week_later", "before_close")] \
        == [(1, 20.0), (2, 40.0), (2, 40.0), (0, 0.0)]
    # patients sent each reminder (sent only: not failed, not skipped)
    assert [rows[k]["sent"] for k in ("none", "window_open", "week_later", "before_close")] \
        == [None, 6, 4, 3]
    assert [rows[k]["sent_percent"] for k in ("window_open", "week_later", "before_close")] \
        == [33.3, 50.0, 0.0]
    assert summary["any_sent"]


def test_an_empty_cohort_has_no_percentages(db):
    mode = completion_by_mode(due_before=DUE_BEFORE)
    reminder = completion_by_reminder(completed=mode["completed"])
    assert mode["completed"] == mode["due"] == 0
    assert {row["percent"] for row in mode["rows"]} == {None}
    assert mode["due_completed_percent"] is None
    assert {row["percent"] for row in reminder["rows"]} == {None}
    assert not reminder["any_sent"]


def _brute_force(due_before: dt.date) -> tuple[dict, dict]:
    """The same tables patient by patient in Python, from plain rows."""
    admins = {(a.patient_id, a.timepoint): a for a in Administration.objects.all()}
    sends = list(ReminderSend.objects.filter(status="sent"))
    by_mode, by_reminder = {}, {}
    for patient_id in Patient.objects.values_list("pk", flat=True):
        baseline, followup = admins.get((patient_id, "baseline")), \
            admins.get((patient_id, "followup"))
        done = followup is not None and followup.status == "complete"
        if baseline is not None and baseline.status == "complete":
            due = baseline.administered_on < due_before
            key = followup.source if done else None
            counts = by_mode.setdefault(key, [0, 0])
            counts[0] += done
            counts[1] += due
        if done and baseline.status == "complete":
            before = [s for s in sends if s.patient_id == patient_id
                      and s.sent_at.astimezone(LONDON).date() <= followup.administered_on]
            last = max(before, key=lambda s: s.sent_at).kind if before else "none"
            by_reminder[last] = by_reminder.get(last, 0) + 1
    return by_mode, by_reminder


def test_a_random_cohort_matches_a_patient_by_patient_count(clinic_a, settings):
    assert settings.TIME_ZONE == "Europe/London"
    rng = random.Random(11)
    spec = {}
    for number in range(120):
        baseline_on = EARLY + dt.timedelta(days=rng.randrange(0, 62))  # half due
        items = {"baseline": (baseline_on, rng.choice(["complete"] * 9 + ["draft"]))}
        if rng.random() < 0.7:
            items["followup"] = (baseline_on + dt.timedelta(days=rng.randrange(76, 121)),
                                 rng.choice(["complete"] * 4 + ["draft"]),
                                 rng.choice(["nurse", "tablet", "link"]))
        start = baseline_on + dt.timedelta(days=76)
        items["sends"] = [
            (kind, rng.choice(["sent"] * 5 + ["failed", "skipped"]),
             utc((start + dt.timedelta(days=offset)).isoformat(), rng.choice([8, 12, 23])))
            for kind, offset in (("window_open", 0), ("week_later", 7), ("before_close", 37))
            if rng.random() < 0.6]
        spec[f"p{number}"] = items
    build(clinic_a, spec)
    by_mode, by_reminder = _brute_force(DUE_BEFORE)
    mode = completion_by_mode(due_before=DUE_BEFORE)
    assert mode["due"] == sum(due for _, due in by_mode.values())
    assert {row["key"]: row["completed"] for row in mode["rows"]} == {
        source: by_mode.get(source, [0, 0])[0] for source in ("nurse", "tablet", "link")}
    reminder = completion_by_reminder(completed=mode["completed"])
    assert {row["key"]: row["completed"] for row in reminder["rows"]} == {
        kind: by_reminder.get(kind, 0)
        for kind in ("none", "window_open", "week_later", "before_close")}
    assert sum(by_reminder.values()) == mode["completed"] > 30


def test_three_queries_whatever_the_cohort(clinic_a, clinic_b):
    counts = []
    for clinic, spec in ((clinic_a, HAND_BUILT), (clinic_b, {f"q{i}": HAND_BUILT[f"p{1 + i % 7}"]
                                                             for i in range(40)})):
        build(clinic, spec)
        with CaptureQueriesContext(connection) as queries:
            summary = outreach_summary(due_before=DUE_BEFORE)
        counts.append(len(queries))
    # p1-p4 and p7 complete their follow-up: 5 in clinic A; in B, 6 each of p1-p4, 5 of p7
    assert summary["by_mode"]["completed"] == 5 + 4 * 6 + 5
    assert counts == [3, 3]


def test_the_dashboard_shows_both_tables(client, researcher, hand_built, monkeypatch):
    monkeypatch.setattr("analysis.pages.dashboard._due_before", lambda: DUE_BEFORE)
    client.force_login(researcher)
    html = client.get(reverse("analysis:dashboard")).content.decode()
    section = html[html.index('<section id="outreach"'):]
    section = section[:section.index("</section>")]
    assert "Follow-up by mode and reminders" in section
    assert ("<tr><th scope=\"row\">By the patient from a link</th><td class=\"num\">3</td>"
            "<td class=\"num\">60.0 %</td><td class=\"num\">2</td>"
            "<td class=\"num\">33.3 %</td></tr>") in section
    assert ("<tr><th scope=\"row\">A week later</th><td class=\"num\">2</td>"
            "<td class=\"num\">40.0 %</td><td class=\"num\">4</td>"
            "<td class=\"num\">50.0 %</td></tr>") in section
    assert "window has closed (6)" in section
    assert 'href="#outreach"' in html


def test_two_reminders_logged_at_the_same_moment_count_once(clinic_a):
    at = utc("2026-04-01")
    build(clinic_a, {"p": {"baseline": (EARLY, "complete"),
                           "followup": (dt.date(2026, 4, 2), "complete", "link"),
                           "sends": [("window_open", "sent", at), ("week_later", "sent", at)]}})
    rows = {row["key"]: row["completed"]
            for row in completion_by_reminder(completed=1)["rows"]}
    # the later log entry (week_later) is the last; the follow-up is counted once
    assert rows == {"none": 0, "window_open": 0, "week_later": 1, "before_close": 0}


def test_the_dashboard_reuses_counts_made_in_the_last_five_minutes(db, django_assert_num_queries):
    from analysis.pages.outreach import outreach_summary_recent

    due_before = dt.date(2026, 6, 1)
    first = outreach_summary_recent(due_before=due_before)
    with django_assert_num_queries(0):
        again = outreach_summary_recent(due_before=due_before)
    assert again["counted_at"] == first["counted_at"]
