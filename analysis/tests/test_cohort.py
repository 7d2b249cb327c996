"""The cohort frame: one query, complete administrations only, withdrawals honoured."""
import datetime as dt

import pytest
from django.utils import timezone

from analysis.stats.cohort import fingerprint, load_cohort, patients_wide
from patients.services import patient_withdraw
from questionnaires.models import Administration
from questionnaires.scoring import score_all
from questionnaires.services import administration_save
from tests.factories import full_answers


@pytest.fixture
def two_patients(make_patient, make_administration, clinic_b):
    first = make_patient(age=50, gender="male")
    make_administration(first, "baseline", answers=full_answers(bpi=3, ppic=4, pih=5))
    make_administration(first, "followup", answers=full_answers(bpi=2, ppic=5, pih=7))
    second = make_patient(clinic=clinic_b, age=61, education="none")
    make_administration(second, "baseline", answers=full_answers(bpi=7, ppic=2, pih=3))
    return first, second


def test_cohort_has_a_row_per_complete_administration_with_patient_and_scores(two_patients):
    first, second = two_patients
    frame = load_cohort()
    assert list(frame["study_id"]) == [first.study_id, first.study_id, second.study_id]
    assert list(frame["timepoint"]) == ["baseline", "followup", "baseline"]
    assert list(frame["clinic"]) == ["A", "A", "B"]
    assert list(frame["age"]) == [50, 50, 61]
    expected = score_all(full_answers(bpi=2, ppic=5, pih=7))
    followup = frame.iloc[1]
    for code, result in expected.items():
        assert followup[code] == pytest.approx(result.value)
    assert followup["administered_on"].date() == first.consented_on + dt.timedelta(days=90)


def test_cohort_is_loaded_with_one_query(two_patients, django_assert_num_queries):
    with django_assert_num_queries(1):
        load_cohort()


def test_cohort_leaves_out_draft_administrations(make_patient, make_administration):
    patient = make_patient()
    make_administration(patient, "baseline", complete=False)
    assert load_cohort().empty


def test_cohort_leaves_out_a_withdrawn_patient_whose_data_may_not_be_kept(
        two_patients, nurse_a):
    first, second = two_patients
    patient_withdraw(patient=second, withdrawn_on=timezone.localdate(), reason="",
                     keep_collected_data=False, by=nurse_a)
    assert set(load_cohort()["study_id"]) == {first.study_id}


def test_cohort_keeps_a_withdrawn_patient_whose_data_may_be_kept(two_patients, nurse_a):
    first, second = two_patients
    patient_withdraw(patient=second, withdrawn_on=timezone.localdate(), reason="",
                     keep_collected_data=True, by=nurse_a)
    assert set(load_cohort()["study_id"]) == {first.study_id, second.study_id}


def test_patients_wide_has_both_timepoints_side_by_side(two_patients):
    first, second = two_patients
    wide = patients_wide(load_cohort()).set_index("study_id")
    assert wide.loc[first.study_id, "has_followup"]
    assert not wide.loc[second.study_id, "has_followup"]
    assert wide.loc[first.study_id, "baseline_bpi_severity"] == 3
    assert wide.loc[first.study_id, "followup_bpi_severity"] == 2
    assert wide.loc[first.study_id, "pain_years_group"] == "5to7"  # 6 years


def test_fingerprint_is_stable_for_the_same_data_and_options(two_patients):
    assert fingerprint(load_cohort(), {"population": "complete_cases"}) == \
        fingerprint(load_cohort(), {"population": "complete_cases"})


def test_fingerprint_changes_with_a_score_or_with_the_options(two_patients):
    first, _ = two_patients
    before = fingerprint(load_cohort(), {"population": "complete_cases"})
    assert fingerprint(load_cohort(), {"population": "all_available"}) != before
    follow = Administration.objects.get(patient=first, timepoint="followup")
    administration_save(patient=first, timepoint="followup",
                        administered_on=follow.administered_on,
                        answers={**full_answers(bpi=2, ppic=5, pih=7), "pih_1": 0},
                        by=None, complete=True, base_version=follow.version, reason="typo")
    assert fingerprint(load_cohort(), {"population": "complete_cases"}) != before
