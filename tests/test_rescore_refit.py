"""A rescore (questionnaires.rescoring) marks the analysis for a refit: here, not in the
questionnaires app's tests, because it reads analysis, an app above questionnaires."""
from __future__ import annotations

import pytest

from analysis.models import RefitRequest
from questionnaires import rescoring
from questionnaires.tests.test_rescore import administrations, worst_pain_rule  # noqa: F401

pytestmark = pytest.mark.django_db


def test_a_rescore_marks_the_analysis_for_a_refit(administrations, worst_pain_rule):  # noqa: F811
    before = RefitRequest.objects.count()
    rescoring.administrations_rescore()
    assert RefitRequest.objects.count() == before + 1
    assert "rescored to version 2026.1" in RefitRequest.objects.latest("pk").reason
