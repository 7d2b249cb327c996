"""Verified keying: which forms are chosen, the blind second keying, settling differences
through the correction path, what counts as verified, and the discrepancy rates (checked
against counts worked out by hand)."""
from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import ValidationError

from clinics.models import Clinic
from patients.services import record_sign_off
from questionnaires.models import Administration, KeyingStatus, KeyingVerification
from questionnaires.verification import (
    discrepancies_settle,
    keying_setting_update,
    second_keying_submit,
)
from questionnaires.verification_selection import is_selected, keying_setting, selection_draw
from questionnaires.verification_selectors import (
    discrepancy_rates,
    unverified_count,
    verified_q,
    with_verified,
)
from tests.factories import full_answers, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def every_form(data_manager):
    return keying_setting_update(mode="all", fraction=0.1, seed="s", by=data_manager)


@pytest.fixture
def nurse_a2(clinic_a):
    return make_user("nurse_a2", [clinic_a], "nurse")


@pytest.fixture
def chosen(every_form, make_patient, make_administration):
    """A baseline keyed by nurse_a (every value 5, 4, 6), waiting for a second keying."""
    return make_administration(make_patient())


def _second(administration, by, **changes):
    answers = full_answers() | {k: v for k, v in changes.items() if k != "administered_on"}
    return second_keying_submit(
        administration=administration, by=by, pih_form_version="current",
        administered_on=changes.get("administered_on", administration.administered_on),
        answers=answers)


# -- which forms are chosen ------------------------------------------------------------------

def test_draw_is_sha256_of_seed_and_id_read_as_a_fraction():
    expected = int(hashlib.sha256(b"study-7:42").hexdigest()[:16], 16) / 2**64
    assert selection_draw(42, "study-7") == expected


def test_a_fraction_chooses_about_that_share_of_forms_reproducibly():
    setting = keying_setting()
    setting.mode, setting.fraction, setting.seed = "fraction", 0.2, "x"
    chosen = [pk for pk in range(1, 5001) if is_selected(pk, setting)]
    assert chosen == [pk for pk in range(1, 5001) if is_selected(pk, setting)]
    # binomial(5000, 0.2): sd 28; 6 sd either side
    assert 830 < len(chosen) < 1170


def test_default_setting_comes_from_settings_until_saved(settings):
    settings.VERIFIED_KEYING_MODE, settings.VERIFIED_KEYING_FRACTION = "fraction", 0.25
    setting = keying_setting()
    assert (setting.mode, setting.fraction, setting._state.adding) == ("fraction", 0.25, True)


def test_setting_with_a_fraction_above_one_is_refused_naming_the_field(data_manager):
    with pytest.raises(ValidationError) as excinfo:
        keying_setting_update(mode="fraction", fraction=1.5, seed="s", by=data_manager)
    assert "fraction" in excinfo.value.message_dict
    assert keying_setting()._state.adding  # nothing stored


def test_off_chooses_nothing(make_patient, make_administration):
    administration = make_administration(make_patient())
    assert not KeyingVerification.objects.filter(administration=administration).exists()


def test_completed_nurse_keyed_form_waits_and_a_draft_does_not(every_form, make_patient,
                                                               make_administration, nurse_a):
    draft = make_administration(make_patient(), complete=False)
    assert not KeyingVerification.objects.exists()
    from questionnaires.services import administration_save

    completed = administration_save(  # the draft completed
        patient=draft.patient, timepoint="baseline", administered_on=draft.administered_on,
        answers=full_answers(), by=nurse_a, complete=True, base_version=draft.version)
    verification = KeyingVerification.objects.get(administration=completed)
    assert (verification.status, verification.first_keyer) == (KeyingStatus.AWAITING, nurse_a)
    assert verification.rule == "all"


def test_patient_completed_answers_need_no_second_keying(every_form, make_patient):
    from questionnaires.services import administration_save

    patient = make_patient()
    administration_save(patient=patient, timepoint="baseline",
                        administered_on=patient.consented_on, answers=full_answers(),
                        by=None, complete=True, source="link")
    assert not KeyingVerification.objects.exists()


# -- the second keying -------------------------------------------------------------------------

def test_second_keying_by_the_first_keyer_is_refused(chosen, nurse_a):
    with pytest.raises(ValidationError) as excinfo:
        _second(chosen, nurse_a)
    assert excinfo.value.code == "same_keyer"
    assert "another user of the clinic" in excinfo.value.messages[0]
    assert KeyingVerification.objects.get().status == KeyingStatus.AWAITING


def test_identical_second_keying_verifies_the_form(chosen, nurse_a2):
    verification = _second(chosen, nurse_a2)
    assert verification.status == KeyingStatus.VERIFIED and verification.fields_compared == 36
    assert not verification.discrepancies.exists()


def test_differences_are_listed_field_by_field(chosen, nurse_a2):
    verification = _second(chosen, nurse_a2, bpi_worst=6, pih_3=None)
    assert verification.status == KeyingStatus.DISCREPANT
    assert list(verification.discrepancies.values_list("field", "first_value",
                                                       "second_value")) == [
        ("bpi_worst", "5", "6"), ("pih_3", "6", "")]


def test_a_second_keying_with_a_bad_value_names_the_item_and_stores_nothing(chosen,
                                                                           nurse_a2):
    with pytest.raises(ValidationError) as excinfo:
        _second(chosen, nurse_a2, bpi_worst=11)
    assert "bpi_worst" in excinfo.value.message_dict
    assert KeyingVerification.objects.get().status == KeyingStatus.AWAITING


def test_second_keying_twice_is_refused(chosen, nurse_a2, data_manager):
    _second(chosen, nurse_a2)
    with pytest.raises(ValidationError, match="keyed a second time already"):
        _second(chosen, data_manager)


# -- settling --------------------------------------------------------------------------------

def test_settling_for_the_second_keying_corrects_the_form_with_scores_and_history(
        chosen, nurse_a2):
    _second(chosen, nurse_a2, bpi_worst=9)
    verification = discrepancies_settle(
        administration=chosen, by=nurse_a2,
        decisions={"bpi_worst": ("second", "paper shows 9")})
    assert verification.status == KeyingStatus.VERIFIED
    stored = Administration.objects.get(pk=chosen.pk)
    assert stored.bpi_worst == 9
    assert stored.bpi_severity == pytest.approx((9 + 5 + 5 + 5) / 4)  # INSTRUMENTS.md mean
    latest = stored.history.latest("history_id")
    assert latest.history_change_reason == ("keying verified against the paper: bpi_worst "
                                            "paper shows 9")
    assert latest.history_user == nurse_a2


def test_settling_for_the_first_keying_changes_no_answer(chosen, nurse_a2, nurse_a):
    _second(chosen, nurse_a2, bpi_worst=9)
    discrepancies_settle(administration=chosen, by=nurse_a,
                         decisions={"bpi_worst": ("first", "paper shows 5")})
    stored = Administration.objects.get(pk=chosen.pk)
    assert (stored.bpi_worst, stored.version) == (5, chosen.version)


def test_settling_without_a_reason_names_the_field_and_writes_nothing(chosen, nurse_a2):
    _second(chosen, nurse_a2, bpi_worst=9)
    with pytest.raises(ValidationError) as excinfo:
        discrepancies_settle(administration=chosen, by=nurse_a2,
                             decisions={"bpi_worst": ("second", " ")})
    assert excinfo.value.message_dict["bpi_worst"][0].startswith("bpi_worst: ")
    assert Administration.objects.get(pk=chosen.pk).bpi_worst == 5
    assert KeyingVerification.objects.get().status == KeyingStatus.DISCREPANT


def test_a_third_nurse_cannot_settle_but_a_data_manager_can(chosen, nurse_a2, clinic_a,
                                                             data_manager):
    _second(chosen, nurse_a2, bpi_worst=9)
    third = make_user("nurse_a3", [clinic_a], "nurse")
    with pytest.raises(ValidationError, match="Only the two keyers or a data manager"):
        discrepancies_settle(administration=chosen, by=third,
                             decisions={"bpi_worst": ("second", "paper")})
    discrepancies_settle(administration=chosen, by=data_manager,
                         decisions={"bpi_worst": ("second", "paper")})
    assert KeyingVerification.objects.get().status == KeyingStatus.VERIFIED


def test_partly_settled_form_stays_unverified(chosen, nurse_a2):
    _second(chosen, nurse_a2, bpi_worst=9, bpi_least=1)
    discrepancies_settle(administration=chosen, by=nurse_a2,
                         decisions={"bpi_worst": ("second", "paper shows 9")})
    assert KeyingVerification.objects.get().status == KeyingStatus.DISCREPANT


def test_unverified_form_blocks_sign_off(chosen, data_manager):
    with pytest.raises(ValidationError, match="1 questionnaire is unverified"):
        record_sign_off(patient=chosen.patient, by=data_manager)


def test_second_keying_into_a_signed_off_record_is_refused(chosen, nurse_a2, data_manager):
    from patients.models import Patient

    Patient.objects.filter(pk=chosen.patient_id).update(signed_off_at="2026-01-01T00:00Z")
    with pytest.raises(ValidationError) as excinfo:
        _second(chosen, nurse_a2)
    assert excinfo.value.code == "signed_off"


# -- what the analysis sees ---------------------------------------------------------------------

def test_verified_filter_and_column(chosen, nurse_a2, make_patient, make_administration,
                                    data_manager):
    keying_setting_update(mode="off", fraction=0.1, seed="s", by=data_manager)
    keyed_once = make_administration(make_patient())
    assert unverified_count() == 1
    assert set(Administration.objects.filter(verified_q())) == {keyed_once}
    assert dict(with_verified(Administration.objects.all()).values_list("pk", "verified")) \
        == {chosen.pk: False, keyed_once.pk: True}
    _second(chosen, nurse_a2)
    assert unverified_count() == 0


def test_discrepancy_rates_per_clinic_and_keyer(every_form, make_patient, make_administration,
                                                nurse_a, nurse_a2, nurse_b, clinic_b):
    b2 = make_user("nurse_b2", [clinic_b], "nurse")
    one = make_administration(make_patient())                      # A: a differs x2
    two = make_administration(make_patient())                      # A: identical
    three = make_administration(make_patient(clinic=clinic_b), by=nurse_b)  # B: 1 diff
    _second(one, nurse_a2, bpi_worst=9, bpi_least=1)
    _second(two, nurse_a2)
    _second(three, b2, pih_1=0)
    discrepancies_settle(administration=one, by=nurse_a,
                         decisions={"bpi_worst": ("second", "paper 9")})  # nurse_a wrong
    discrepancies_settle(administration=three, by=b2,
                         decisions={"pih_1": ("first", "paper 6")})       # nurse_b2 wrong
    clinics, keyers = discrepancy_rates()
    # 36 fields a form. A: 2 forms, 72 fields, 2 differences (1 unsettled); B: 36, 1.
    assert [(r.name, r.forms, r.fields, r.differences, r.unsettled) for r in clinics] == [
        ("A", 2, 72, 2, 1), ("B", 1, 36, 1, 0)]
    assert clinics[0].rate == pytest.approx(2 / 72)
    assert [(r.name, r.forms, r.fields, r.differences, r.unsettled) for r in keyers] == [
        ("nurse_a", 2, 72, 1, 1), ("nurse_a2", 2, 72, 0, 1), ("nurse_b", 1, 36, 0, 0),
        ("nurse_b2", 1, 36, 1, 0)]
    assert Clinic.objects.count() == 2


def test_forms_chosen_by_a_fraction_are_those_whose_draw_is_below_it(
        data_manager, make_patient, make_administration):
    keying_setting_update(mode="fraction", fraction=0.5, seed="trial-3", by=data_manager)
    forms = [make_administration(make_patient()) for _ in range(8)]
    expected = {f.pk for f in forms if selection_draw(f.pk, "trial-3") < 0.5}
    assert set(KeyingVerification.objects.values_list("administration_id", flat=True)) \
        == expected
    assert set(KeyingVerification.objects.values_list("rule", flat=True)) <= {
        "fraction 0.5, seed trial-3"}
