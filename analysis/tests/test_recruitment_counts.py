"""The recruitment table counts a withdrawal once, as "Consent withdrawn" (issue 14)."""
import pytest
from django.utils import timezone

from analysis.pages.dashboard import recruitment_table
from patients.services import patient_mark_lost, patient_withdraw


@pytest.mark.django_db
def test_a_withdrawal_counts_once_and_lost_rows_count_other_reasons(nurse_a, make_patient,
                                                                    make_administration):
    withdrew, did_not_attend, _active = make_patient(), make_patient(), make_patient()
    for patient in (withdrew, did_not_attend):
        make_administration(patient)
    patient_withdraw(patient=withdrew, withdrawn_on=timezone.localdate(), reason="",
                     keep_collected_data=True, by=nurse_a)
    patient_mark_lost(patient=did_not_attend, lost_reason="did_not_attend", by=nurse_a)
    table = recruitment_table()
    overall = {row["label"]: row["cells"][0] for row in table["rows"]}
    assert overall["Recruited"] == 3
    assert overall["Consent withdrawn"] == 1
    assert overall["Lost to follow-up"] == 1
    assert overall["– did not attend"] == 1
    assert not any("withdrew" in label for label in overall)
    # the rows the cohort is divided into add up once each: 1 withdrawn + 1 lost + 1 active
    assert overall["Consent withdrawn"] + overall["Lost to follow-up"] == 2
