"""Scoring against INSTRUMENTS.md: worked examples, best, worst, missing, properties."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from questionnaires.instruments import BPI, ITEMS_BY_CODE, PIH, PPIC, SCALES, SCALES_BY_CODE
from questionnaires.scoring import score, score_all

SEVERITY = ("bpi_worst", "bpi_least", "bpi_average", "bpi_now")
INTERFERENCE = ("bpi_general_activity", "bpi_mood", "bpi_walking", "bpi_work",
                "bpi_relations", "bpi_sleep", "bpi_enjoyment")


def scale(code):
    return SCALES_BY_CODE[code]


# Worked examples (INSTRUMENTS.md, "must hold")

def test_bpi_severity_worked_example():
    answers = dict(zip(SEVERITY, (7, 3, 5, 6), strict=True))
    assert score(scale("bpi_severity"), answers).value == pytest.approx(5.25)


def test_bpi_interference_with_four_answered_is_their_mean():
    answers = dict(zip(INTERFERENCE, (4, 5, None, 6, None, None, 7), strict=True))
    result = score(scale("bpi_interference"), answers)
    assert result.value == pytest.approx(5.5)
    assert result.n_answered == 4


def test_bpi_interference_missing_with_only_three_answered():
    answers = dict(zip(INTERFERENCE, (4, 5, None, 6, None, None, None), strict=True))
    result = score(scale("bpi_interference"), answers)
    assert result.value is None
    assert "4 of 7 items missing" in result.reason


def test_ppic_all_fours_is_44():
    assert score(scale("ppic_partnership"), dict.fromkeys(PPIC.item_codes, 4)).value == 44


def test_ppic_ten_fives_and_one_missing_prorates_to_55():
    answers = dict.fromkeys(PPIC.item_codes, 5) | {"ppic_7": None}
    result = score(scale("ppic_partnership"), answers)
    assert result.value == pytest.approx(55.0)
    assert result.n_answered == 10


def test_pih_all_eights_gives_100_everywhere():
    results = score_all(dict.fromkeys(PIH.item_codes, 8))
    assert {c: results[c].value for c in ("pih_knowledge", "pih_side_effects", "pih_symptoms",
                                          "pih_adherence", "pih_overall")} == dict.fromkeys(
        ("pih_knowledge", "pih_side_effects", "pih_symptoms", "pih_adherence", "pih_overall"),
        100.0)


def test_pih_all_zeros_gives_0_everywhere():
    results = score_all(dict.fromkeys(PIH.item_codes, 0))
    assert all(results[s.code].value == 0 for s in PIH.scales)


def test_pih_knowledge_missing_when_one_of_two_items_missing():
    result = score(scale("pih_knowledge"), {"pih_1": 8, "pih_2": None})
    assert result.value is None
    assert result.reason.startswith("PIH knowledge: 1 of 2 items missing")


def test_pih_side_effects_prorated_with_one_of_three_missing():
    result = score(scale("pih_side_effects"), {"pih_9": 6, "pih_10": 6, "pih_11": None})
    assert result.value == pytest.approx(75.0)


# Best, worst and missing for every scale

@pytest.mark.parametrize("sc", SCALES, ids=lambda s: s.code)
def test_best_answers_give_the_scale_maximum(sc):
    best = {code: ITEMS_BY_CODE[code].maximum for code in sc.items}
    assert score(sc, best).value == pytest.approx(sc.maximum)


@pytest.mark.parametrize("sc", SCALES, ids=lambda s: s.code)
def test_worst_answers_give_the_scale_minimum(sc):
    worst = {code: ITEMS_BY_CODE[code].minimum for code in sc.items}
    assert score(sc, worst).value == pytest.approx(sc.minimum)


@pytest.mark.parametrize("sc", SCALES, ids=lambda s: s.code)
def test_one_missing_item_more_than_allowed_makes_the_score_missing(sc):
    n_answered = sc.min_answered - 1
    answers = {code: ITEMS_BY_CODE[code].maximum if i < n_answered else None
               for i, code in enumerate(sc.items)}
    result = score(sc, answers)
    assert result.value is None
    assert f"{sc.n_items - n_answered} of {sc.n_items} items missing" in result.reason


@pytest.mark.parametrize("sc", SCALES, ids=lambda s: s.code)
def test_the_fewest_items_allowed_still_give_a_score(sc):
    answers = {code: ITEMS_BY_CODE[code].maximum if i < sc.min_answered else None
               for i, code in enumerate(sc.items)}
    assert score(sc, answers).value == pytest.approx(sc.maximum)


def test_ppic_six_missing_is_missing_and_says_so():
    answers = dict.fromkeys(PPIC.item_codes[:5], 3)
    assert score(scale("ppic_partnership"), answers).reason.startswith(
        "PPiC partnership: 6 of 11 items missing")


def test_bpi_severity_needs_all_four_items():
    answers = dict(zip(SEVERITY, (7, 3, 5, None), strict=True))
    assert score(scale("bpi_severity"), answers).value is None


def test_pih_overall_needs_ten_of_twelve():
    answers = dict.fromkeys(PIH.item_codes, 4)
    answers.update(pih_1=None, pih_2=None)
    assert score(scale("pih_overall"), answers).value == pytest.approx(50.0)
    answers["pih_3"] = None
    assert score(scale("pih_overall"), answers).value is None


def test_reversed_pih_form_is_scored_as_eight_minus_x():
    answers = dict.fromkeys(PIH.item_codes, 2)
    assert score_all(answers, pih_reversed=True)["pih_overall"].value == pytest.approx(75.0)
    assert score_all(answers)["pih_overall"].value == pytest.approx(25.0)


def test_reversed_pih_form_leaves_other_instruments_alone():
    answers = dict.fromkeys(BPI.item_codes, 2)
    assert score_all(answers, pih_reversed=True)["bpi_severity"].value == pytest.approx(2.0)


# Properties

def answers_for(sc):
    return st.fixed_dictionaries({
        code: st.one_of(st.none(), st.integers(ITEMS_BY_CODE[code].minimum,
                                               ITEMS_BY_CODE[code].maximum))
        for code in sc.items})


@pytest.mark.parametrize("sc", SCALES, ids=lambda s: s.code)
def test_every_score_stays_in_range(sc):
    @given(answers_for(sc))
    def check(answers):
        value = score(sc, answers).value
        assert value is None or sc.minimum - 1e-9 <= value <= sc.maximum + 1e-9

    check()


@pytest.mark.parametrize("sc", SCALES, ids=lambda s: s.code)
def test_score_never_decreases_when_one_item_rises(sc):
    @given(answers_for(sc), st.sampled_from(sc.items))
    def check(answers, code):
        item = ITEMS_BY_CODE[code]
        if answers[code] is None or answers[code] == item.maximum:
            return
        before = score(sc, answers).value
        after = score(sc, answers | {code: answers[code] + 1}).value
        if before is not None:
            assert after is not None and after >= before

    check()
