"""Table 3 classification and the maximum-variation helper."""
import numpy as np
import pandas as pd
import pytest

from analysis.interviews.classify import Table3Row, classify, classify_codes, table3, table3_rows
from analysis.interviews.constants import (
    CATEGORIES,
    CLASSIFIED_SCORES,
    INCREASED,
    LOWERED,
    MIX_ATTRIBUTES,
    PAIN_SEVERITY,
    STATIC_ATTRIBUTES,
    UNCHANGED,
)
from analysis.interviews.proposal import max_variation
from questionnaires.instruments import PIH_SCORE_CODES


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


# --- Table 3 with the paper's groups --------------------------------------------------

def _record(study_id, pain_years, pain_sites, overall_change=0.0):
    record = {"study_id": study_id, "clinic": "A", "age": 50, "gender": "female",
              "ethnicity": "white_british", "education": "none",
              "pain_years": pain_years, "pain_sites": pain_sites}
    for code in CLASSIFIED_SCORES:
        record[f"baseline_{code}"] = 50.0
        record[f"followup_{code}"] = 50.0 + overall_change
    return record


@pytest.mark.parametrize("years, sites, years_label, sites_label", [
    (0, 1, "<= 4 years", "1 site"), (4, 2, "<= 4 years", "2 sites"),
    (5, 3, "5-7 years", ">= 3 sites"), (7, 20, "5-7 years", ">= 3 sites"),
    (8, 1, ">= 8 years", "1 site"), (None, None, "", ""),
])
def test_table3_rows_carry_the_papers_groups(years, sites, years_label, sites_label):
    row, = table3_rows([_record("A-001", years, sites)], {"pih_overall": 5.0})
    assert (row.pain_years_label, row.pain_sites_label) == (years_label, sites_label)
    assert (row.pain_years, row.pain_sites) == (years, sites)      # kept for the proposal


def test_table3_lists_pain_change_before_the_groups_and_pih_after():
    limits = dict.fromkeys(CLASSIFIED_SCORES, 5.0)
    row, = table3_rows([_record("A-001", 6, 2, overall_change=-6.0)], limits)
    assert row.pain_change == LOWERED
    assert row.pih_changes == [LOWERED] * len(PIH_SCORE_CODES)
    assert PIH_SCORE_CODES[-1] == "pih_overall"                  # overall is the last column


@pytest.mark.parametrize("change", [5.0, -5.0, 5.000001, -5.000001, 0.0, None, float("nan"),
                                    40 + 12.909944487358056 / 2 - 40])
def test_vectorised_classification_agrees_with_classify(change):
    code, = classify_codes([change], 5.0)
    assert (CATEGORIES[code] if code >= 0 else None) == classify(change, 5.0)


# --- the vectorised proposal against the original greedy, written out plainly ----------

def _reference_max_variation(rows, size, already=(), exclude=()):
    """The greedy as first written (one Python pass per pick): the reference."""
    from collections import Counter

    from analysis.interviews.constants import OVERALL

    kept = set(already) - set(exclude)
    chosen = [row for row in rows if row.study_id in kept]
    candidates = [row for row in rows if row.study_id not in kept
                  and row.study_id not in set(exclude) and row.changes.get(OVERALL)]
    while len(chosen) < size and candidates:
        overall = Counter(row.changes.get(OVERALL) for row in chosen)
        missing = [c for c in CATEGORIES if not overall[c]
                   and any(row.changes.get(OVERALL) == c for row in candidates)]
        pool = ([row for row in candidates if row.changes.get(OVERALL) == missing[0]]
                if missing else candidates)
        seen = {(name, row.attribute(name)) for row in chosen for name in MIX_ATTRIBUTES}

        def rank(row, seen=seen, overall=overall):
            new = sum((name, row.attribute(name)) not in seen for name in MIX_ATTRIBUTES
                      if row.attribute(name))
            return (-new, overall[row.changes.get(OVERALL)], row.study_id)

        pick = min(pool, key=rank)
        chosen.append(pick)
        candidates.remove(pick)
    return chosen


def _random_rows(seed, n):
    rng = np.random.default_rng(seed)

    def pick(values):
        return values[rng.integers(len(values))]

    return [Table3Row(
        study_id=f"{pick('ABC')}-{i:04d}", clinic=pick("ABCDE"), age=pick([None, 25, 40, 62, 80]),
        gender=pick(["female", "male", ""]), ethnicity=pick(["white_british", "asian", ""]),
        education=pick(["none", "below_a_level", "a_level_or_above"]),
        pain_years=None, pain_sites=None, pain_years_group=pick(["le4", "5to7", "ge8", ""]),
        pain_sites_group=pick(["1", "2", "ge3", ""]),
        changes={"pih_overall": pick([INCREASED] * 8 + [UNCHANGED] * 2 + [LOWERED, None]),
                 "bpi_severity": pick([INCREASED, UNCHANGED, LOWERED, None])},
        deltas={}) for i in rng.permutation(n)]


@pytest.mark.parametrize("seed, size", [(1, 1), (2, 5), (3, 12), (4, 40), (5, 200)])
def test_vectorised_proposal_equals_the_original_greedy(seed, size):
    rows = _random_rows(seed, 150)
    ids = sorted(row.study_id for row in rows)
    already, exclude = set(ids[3:9:2]), {ids[4], ids[10], ids[20]}
    # The page's rows come sorted by study ID; the vectorised version sorts whatever it gets.
    by_id = sorted(rows, key=lambda row: row.study_id)
    expected = [row.study_id for row in _reference_max_variation(by_id, size, already, exclude)]
    assert [row.study_id for row in max_variation(
        rows, size=size, already=already, exclude=exclude)] == expected


def test_the_change_in_pain_is_the_last_attribute_and_the_others_are_static():
    # CompleterData.pool appends the change in pain (it depends on the rule) to the codes
    # of the other attributes, computed once per data version: the order must agree.
    assert MIX_ATTRIBUTES[-1] == f"change_{PAIN_SEVERITY}"
    assert STATIC_ATTRIBUTES == MIX_ATTRIBUTES[:-1]
    assert not any(name.startswith("change_") for name in STATIC_ATTRIBUTES)


def test_the_pages_coded_pool_proposes_as_the_table3_rows_do():
    from analysis.interviews.completers import CompleterData
    from analysis.interviews.selectors import COLUMNS

    rng = np.random.default_rng(7)
    records = []
    for i in rng.permutation(60):
        record = {"study_id": f"{'AB'[i % 2]}-{i:03d}", "clinic": "AB"[i % 2],
                  "age": [None, 25, 40, 62, 80][i % 5],
                  "gender": ["female", "male", None][i % 3],
                  "ethnicity": ["white_british", "non_british", None][i % 3 - 1],
                  "education": ["none", "below_a_level", "a_level_or_above"][i % 3],
                  "pain_years": [None, 2, 6, 12][i % 4], "pain_sites": [1, 2, 5, None][i % 4]}
        for code in CLASSIFIED_SCORES:
            record[f"baseline_{code}"] = float(rng.integers(0, 10))
            record[f"followup_{code}"] = float(rng.integers(0, 10))
        records.append(record)
    data = CompleterData.from_rows([tuple(r.get(c) for c in COLUMNS) for r in records],
                                   COLUMNS)
    limits = {code: 1.5 for code in CLASSIFIED_SCORES}
    rows = table3_rows(records, limits)
    assert data.pool(limits).propose(size=15, already={"A-010"}, exclude={"B-011"}) == [
        row.study_id for row in max_variation(rows, size=15, already={"A-010"},
                                              exclude={"B-011"})]


# --- the page: Table 3's groups, queries independent of the cohort's size -------------

def _completer(make_patient, make_administration, study_id, pih=6, **characteristics):
    from tests.factories import full_answers

    patient = make_patient(study_id=study_id, **characteristics)
    make_administration(patient, "baseline", answers=full_answers(pih=4))
    make_administration(patient, "followup", answers=full_answers(pih=pih))
    return patient


def _interview_page(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("analysis:interviews"))
    assert response.status_code == 200
    return response, len(queries)


def test_table3_on_the_page_shows_the_papers_groups(client, researcher, make_patient,
                                                   make_administration):
    from analysis.services import interview_contact_save

    patient = _completer(make_patient, make_administration, "A-001", pain_years=7,
                         pain_sites=3)
    _completer(make_patient, make_administration, "A-002", pih=2, pain_years=2, pain_sites=1)
    interview_contact_save(patient=patient, status="invited", by=researcher)
    client.force_login(researcher)
    html = _interview_page(client)[0].content.decode()
    table3 = html[html.index('data-testid="proposal"'):]
    table3 = table3[:table3.index("</table>")]
    assert "<td data-testid=\"pain-years-group\">5-7 years</td>" in table3
    assert "<td data-testid=\"pain-sites-group\">&gt;= 3 sites</td>" in table3
    assert "<td data-testid=\"pain-years-group\">&lt;= 4 years</td>" in table3
    assert ">7<" not in table3                                    # raw years are not shown


def test_interview_page_queries_do_not_grow_with_the_cohort(client, researcher, make_patient,
                                                            make_administration):
    client.force_login(researcher)
    _completer(make_patient, make_administration, "A-001")
    _, small_first = _interview_page(client)
    _, small_again = _interview_page(client)
    for number in range(2, 12):
        _completer(make_patient, make_administration, f"A-{number:03d}", pih=number % 7)
    response, large_first = _interview_page(client)
    _, large_again = _interview_page(client)
    assert response.context["completer_count"] == 11              # the change was seen
    assert small_first == large_first
    assert small_again == large_again == small_first - 1          # completers read once


def test_interview_page_reads_the_completers_again_after_a_withdrawal(
        client, researcher, make_patient, make_administration, nurse_a):
    from patients.services import patient_withdraw

    client.force_login(researcher)
    patients = [_completer(make_patient, make_administration, f"A-{n:03d}") for n in (1, 2)]
    assert _interview_page(client)[0].context["completer_count"] == 2
    patient_withdraw(patient=patients[0], keep_collected_data=False, by=nurse_a,
                     withdrawn_on=patients[0].consented_on, reason="test")
    assert _interview_page(client)[0].context["completer_count"] == 1
