"""An import asks for one refit (moved from questionnaires/tests/test_import.py: the refit
request is analysis's, reached through core's data-changed signal)."""
from __future__ import annotations

import pytest
from django.core.management import call_command

from questionnaires.tests.cohort_files import write_cohort
from questionnaires.tests.test_import import _pair

pytestmark = pytest.mark.django_db


def test_import_requests_one_refit(clinic_a, clinic_b, tmp_path):
    from analysis.models import RefitRequest

    path = write_cohort(tmp_path / "c.csv", _pair("A-001") + _pair("A-002") + _pair("A-003"))
    call_command("import_cohort", str(path), stdout=None)
    assert list(RefitRequest.objects.values_list("reason", flat=True)) == [
        "6 administrations imported from c.csv"]
