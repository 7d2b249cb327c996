"""Versioned scoring (issue 17, item 6): `manage.py rescore` and its service.

A rule is changed deliberately by monkeypatching the scoring module: BPI severity becomes
the worst-pain item alone. Only administrations whose four severity items differ change
(their mean is not their worst); each gets a history record saying why.
"""
from __future__ import annotations

import importlib
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command

from questionnaires import rescoring, scoring
from questionnaires.models import Administration
from questionnaires.scoring import ScoreResult
from tests.factories import full_answers

pytestmark = pytest.mark.django_db


@pytest.fixture
def administrations(make_patient, make_administration):
    """Three administrations: even severity items (5, 5, 5, 5), uneven (8, 2, 4, 6),
    and one with a severity item missing (no severity score under either rule)."""
    even = make_administration(make_patient(study_id="A-001"), answers=full_answers(bpi=5))
    uneven_answers = {**full_answers(bpi=5), "bpi_worst": 8, "bpi_least": 2,
                      "bpi_average": 4, "bpi_now": 6}
    uneven = make_administration(make_patient(study_id="A-002"), answers=uneven_answers)
    missing = make_administration(make_patient(study_id="A-003"),
                                  answers={**full_answers(bpi=5), "bpi_now": None})
    return even, uneven, missing


@pytest.fixture
def worst_pain_rule(monkeypatch):
    """The changed rule: BPI severity = the worst-pain item (needs all four, as before)."""
    original = scoring.score

    def changed(scale, answers):
        result = original(scale, answers)
        if scale.code != "bpi_severity" or result.is_missing:
            return result
        return ScoreResult(scale.code, float(answers["bpi_worst"]), result.n_answered,
                           result.n_items)

    monkeypatch.setattr(scoring, "score", changed)


def _history_reasons(administration) -> list[str]:
    return list(administration.history.order_by("-history_id")
                .values_list("history_change_reason", flat=True))


def _scores(administration) -> dict:
    return {name: getattr(administration, name) for name in rescoring.SCORE_FIELDS}


def _rescore(*args) -> str:
    out = StringIO()
    call_command("rescore", *args, stdout=out)
    return out.getvalue()


def test_nothing_changed_reports_zero_and_writes_nothing(administrations):
    before = list(Administration.objects.order_by("pk").values())
    history = Administration.history.count()
    output = _rescore()
    assert "0 of 3 administrations changed (0 score values)" in output
    assert "nothing written" in output
    assert list(Administration.objects.order_by("pk").values()) == before
    assert Administration.history.count() == history


def test_a_changed_rule_rescores_exactly_the_affected_administrations(administrations,
                                                                      worst_pain_rule):
    even, uneven, missing = administrations
    untouched = {a.pk: _scores(a) for a in (even, missing)}
    uneven_before = _scores(uneven)
    assert uneven.bpi_severity == 5.0  # (8 + 2 + 4 + 6) / 4 by the rule as shipped

    report = rescoring.administrations_rescore()

    assert (report.checked, report.changed, report.values_changed, report.restamped) == (
        3, 1, 1, 0)
    uneven.refresh_from_db()
    assert uneven.bpi_severity == 8.0
    assert {k: v for k, v in _scores(uneven).items() if k != "bpi_severity"} == {
        k: v for k, v in uneven_before.items() if k != "bpi_severity"}
    assert _history_reasons(uneven)[0] == "rescored to version 2026.1"
    assert uneven.history.first().bpi_severity == 8.0
    for administration in (even, missing):
        administration.refresh_from_db()
        assert _scores(administration) == untouched[administration.pk]
        assert "rescored to version 2026.1" not in _history_reasons(administration)


def test_a_new_version_stamps_every_administration_with_history(administrations,
                                                                worst_pain_rule,
                                                                monkeypatch):
    monkeypatch.setattr(rescoring, "SCORING_VERSION", "2027.1")
    output = _rescore()
    assert "Scoring version 2027.1: 1 of 3 administrations changed (1 score values)" in output
    assert "2 with unchanged scores stamped" in output
    assert set(Administration.objects.values_list("scoring_version", flat=True)) == {"2027.1"}
    for administration in administrations:
        assert _history_reasons(administration)[0] == "rescored to version 2027.1"
    assert _rescore().startswith("Scoring version 2027.1: 0 of 3")  # the second time: none


def test_dry_run_reports_without_writing(administrations, worst_pain_rule):
    before = list(Administration.objects.order_by("pk").values())
    history = Administration.history.count()
    output = _rescore("--dry-run")
    assert "1 of 3 administrations would change (1 score values)" in output
    assert "Dry run: nothing written." in output
    assert list(Administration.objects.order_by("pk").values()) == before
    assert Administration.history.count() == history


def test_rescoring_keeps_answers_and_the_edit_version(administrations, worst_pain_rule):
    _, uneven, _ = administrations
    rescoring.administrations_rescore()
    stored = Administration.objects.get(pk=uneven.pk)
    assert (stored.version, stored.answers, stored.administered_on) == (
        uneven.version, uneven.answers, uneven.administered_on)


def test_reversed_pih_forms_are_rescored_as_they_are_scored(make_patient, nurse_a,
                                                            monkeypatch):
    """An older PIH form (0 = best) is turned round before scoring, on rescoring too."""
    from questionnaires.services import administration_save

    patient = make_patient()
    stored = administration_save(patient=patient, timepoint="baseline",
                                 administered_on=patient.consented_on,
                                 answers=full_answers(pih=2), by=nurse_a, complete=True,
                                 pih_form_version="reversed")
    assert stored.pih_knowledge == 75.0  # 8 - 2 = 6 of 8
    assert rescoring.administrations_rescore().changed == 0


def test_the_migration_stamps_administrations_without_a_version(administrations):
    even, *_ = administrations
    Administration.objects.filter(pk=even.pk).update(scoring_version="")
    migration = importlib.import_module(
        "questionnaires.migrations.0007_freeze_stamp_scoring_version")
    migration.stamp(django_apps, None)
    assert set(Administration.objects.values_list("scoring_version", flat=True)) == {"2026.1"}
