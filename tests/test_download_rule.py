"""The README's rule: researchers may download the codebook and the R/Stata snippets (no
patient data), not the patient-level files; nurses none of them (issue 15, item 4)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from analysis.models import ExportLog

pytestmark = pytest.mark.django_db

DOCUMENTATION = ["codebook_csv", "load_r", "load_stata"]
PATIENT_LEVEL = ["cohort_csv", "wide_csv", "cohort_dta", "wide_dta"]


def _get(client, user, file):
    client.force_login(user)
    return client.get(reverse("analysis:download", kwargs={"file": file}))


@pytest.mark.parametrize("file", DOCUMENTATION)
def test_a_researcher_downloads_the_codebook_and_snippets(client, researcher, file):
    response = _get(client, researcher, file)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    assert response.content  # the file itself, not an empty answer


@pytest.mark.parametrize("file", PATIENT_LEVEL)
def test_a_researcher_is_refused_the_patient_level_files(client, researcher, make_patient,
                                                         make_administration, file):
    make_administration(make_patient())
    assert _get(client, researcher, file).status_code == 403
    assert not ExportLog.objects.exists()


@pytest.mark.parametrize("file", DOCUMENTATION + PATIENT_LEVEL)
def test_a_nurse_downloads_nothing(client, nurse_a, file):
    assert _get(client, nurse_a, file).status_code == 403


def test_the_export_page_links_the_researcher_to_what_she_may_download(client, researcher):
    client.force_login(researcher)
    page = client.get(reverse("analysis:export")).content.decode()
    for file in DOCUMENTATION:
        assert reverse("analysis:download", kwargs={"file": file}) in page
    for file in PATIENT_LEVEL:
        assert reverse("analysis:download", kwargs={"file": file}) not in page
