"""Table 3 classification and the maximum-variation helper."""
import numpy as np
import pandas as pd
import pytest

from analysis.interviews import (
    CLASSIFIED_SCORES,
    INCREASED,
    LOWERED,
    UNCHANGED,
    Table3Row,
    classify,
    max_variation,
    table3,
)


@pytest.mark.parametrize("change, expected", [
    (5.0, UNCHANGED), (-5.0, UNCHANGED),          # exactly on the boundary: unchanged
    (5.000001, INCREASED), (-5.000001, LOWERED),
    (0.0, UNCHANGED), (None, None), (float("nan"), None),
])
def test_classify_at_its_boundaries(change, expected):
    assert classify(change, 5.0) == expected


def _completers(baseline_overall, followup_overall):
    n = len(baseline_overall)
    frame = pd.DataFrame({
        "study_id": [f"A-{i:03d}" for i in range(n)], "clinic": ["A"] * n, "age": [50] * n,
        "gender": ["female"] * n, "ethnicity": ["white_british"] * n,
        "education": ["none"] * n, "pain_years": [5] * n, "pain_sites": [2] * n,
        "pain_years_group": ["5to7"] * n, "pain_sites_group": ["2"] * n})
    for code in CLASSIFIED_SCORES:
        frame[f"baseline_{code}"] = baseline_overall
        frame[f"followup_{code}"] = followup_overall
    return frame


def test_threshold_is_half_the_baseline_sd_of_completers():
    baseline = [40.0, 50.0, 60.0, 70.0]
    sd = float(np.std(baseline, ddof=1))            # 12.91
    followup = [40.0 + sd / 2, 50.0 + sd / 2 + 0.01, 60.0 - sd / 2 - 0.01, 70.0]
    rows, limits = table3(_completers(baseline, followup))
    assert limits["pih_overall"] == pytest.approx(sd / 2)
    assert [row.changes["pih_overall"] for row in rows] == [
        UNCHANGED, INCREASED, LOWERED, UNCHANGED]


def test_threshold_fraction_is_configurable():
    baseline = [40.0, 50.0, 60.0, 70.0]
    sd = float(np.std(baseline, ddof=1))
    followup = [40.0 + 0.3 * sd, 50.0, 60.0, 70.0]
    rows, _ = table3(_completers(baseline, followup), sd_fraction=0.2)
    assert rows[0].changes["pih_overall"] == INCREASED
    rows, _ = table3(_completers(baseline, followup), sd_fraction=0.5)
    assert rows[0].changes["pih_overall"] == UNCHANGED


def _row(study_id, overall, gender="female", clinic="A", education="none"):
    return Table3Row(study_id=study_id, clinic=clinic, age=50, gender=gender,
                     ethnicity="white_british", education=education, pain_years=5,
                     pain_sites=2, pain_years_group="5to7", pain_sites_group="2",
                     changes={"pih_overall": overall, "bpi_severity": LOWERED}, deltas={})


def test_max_variation_covers_all_three_categories_when_they_exist():
    # 20 increased, 1 unchanged, 1 lowered: a proposal of 3 must hold one of each.
    rows = [_row(f"A-{i:03d}", INCREASED) for i in range(20)]
    rows += [_row("B-001", UNCHANGED), _row("C-001", LOWERED)]
    proposal = max_variation(rows, size=3)
    assert {row.changes["pih_overall"] for row in proposal} == {INCREASED, UNCHANGED, LOWERED}


def test_max_variation_prefers_new_characteristics():
    rows = [_row("A-001", INCREASED), _row("A-002", INCREASED),
            _row("A-003", INCREASED, gender="male", clinic="B", education="a_level_or_above")]
    proposal = max_variation(rows, size=2)
    assert {row.gender for row in proposal} == {"female", "male"}


def test_max_variation_keeps_invited_and_never_proposes_those_who_declined():
    rows = [_row("A-001", INCREASED), _row("A-002", UNCHANGED), _row("A-003", LOWERED),
            _row("A-004", LOWERED)]
    proposal = max_variation(rows, size=3, already={"A-001"}, exclude={"A-003"})
    ids = [row.study_id for row in proposal]
    assert ids[0] == "A-001"
    assert "A-003" not in ids
    assert set(ids) == {"A-001", "A-002", "A-004"}


def test_max_variation_with_fewer_candidates_than_asked_returns_them_all():
    rows = [_row("A-001", INCREASED), _row("A-002", None)]   # no overall change: not eligible
    assert [row.study_id for row in max_variation(rows, size=5)] == ["A-001"]
