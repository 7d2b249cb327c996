"""Scores at their stated precision and missing-data reasons, alike in the cohort CSV, the
wide file and the .dta (issue 14 "Statisticians", issue 17 item 5)."""
import csv
import io

import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pandas.io.stata import StataMissingValue

from patients.models import Patient
from questionnaires.cohort_files.columns import EXPORT_COLUMNS
from questionnaires.cohort_files.writer import cohort_rows
from questionnaires.instruments import BPI, PIH, PPIC
from questionnaires.models import Administration, AdministrationSource
from questionnaires.services import administration_save

# Interference: six answered, summing to 50 -> 50/6 = 25/3 = 8.333...; one missing.
INTERFERENCE = dict(zip(BPI.item_codes[4:], (9, 9, 8, 8, 8, 8, None), strict=True))
# PPiC: eight answered summing to 27 -> prorated 27/8 x 11 = 37.125 exactly, a half at the
# third decimal: half away from zero gives 37.13 (round-half-even would give 37.12).
PPIC_ANSWERS = dict(zip(PPIC.item_codes, (4, 4, 4, 3, 3, 3, 3, 3, None, None, None),
                        strict=True))


def _answers(**overrides):
    answers = {code: 5 for code in BPI.item_codes[:4]}
    answers.update(INTERFERENCE)
    answers.update(PPIC_ANSWERS)
    answers.update({code: 6 for code in PIH.item_codes})
    answers.update(overrides)
    return answers


@pytest.fixture
def two_patients(make_patient, make_administration):
    """P1: baseline with 25/3 interference, a tie in PPiC, bpi_worst not answered (so no
    severity), gender and age not recorded; follow-up fully answered. P2: baseline only."""
    first = make_patient(gender="", age=None)
    make_administration(first, answers=_answers(bpi_worst=None))
    make_administration(first, "followup", answers=_answers(
        **{code: 4 for code in BPI.item_codes}, **{code: 4 for code in PPIC.item_codes}))
    second = make_patient()
    make_administration(second, answers=_answers())
    return first, second


def _download(client, user, file) -> bytes:
    client.force_login(user)
    response = client.get(reverse("analysis:download", kwargs={"file": file}))
    assert response.status_code == 200
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return b"".join(response) if hasattr(response, "file_to_stream") else response.content


def _csv(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def _dta(content: bytes, tmp_path, name: str, **options) -> pd.DataFrame:
    path = tmp_path / name
    path.write_bytes(content)
    return pd.read_stata(path, **options)


def test_scores_are_written_at_two_decimals_alike_in_csv_wide_and_dta(
        client, statistician, two_patients, tmp_path):
    first, _ = two_patients
    rows = {(r["study_id"], r["timepoint"]): r for r in _csv(
        _download(client, statistician, "cohort_csv"))}
    baseline = rows[(first.study_id, "baseline")]
    assert baseline["bpi_interference"] == "8.33"        # 25/3
    assert baseline["ppic_partnership"] == "37.13"       # 37.125, half away from zero
    assert baseline["pih_overall"] == "75.00"            # 100 x 72 / 96, exact
    assert rows[(first.study_id, "followup")]["bpi_interference"] == "4.00"
    wide = {r["study_id"]: r for r in _csv(_download(client, statistician, "wide_csv"))}
    assert wide[first.study_id]["bpi_interference_bl"] == "8.33"
    assert wide[first.study_id]["ppic_partnership_bl"] == "37.13"
    # The change is that of the written values: 4.00 - 8.33, exactly, no float noise.
    assert wide[first.study_id]["bpi_interference_chg"] == "-4.33"
    assert wide[first.study_id]["ppic_partnership_chg"] == "6.87"     # 44.00 - 37.13
    long = _dta(_download(client, statistician, "cohort_dta"), tmp_path, "long.dta")
    record = long[(long.study_id == first.study_id)
                  & (long.timepoint.astype(str) == "Baseline")].iloc[0]
    assert record["bpi_interference"] == 8.33        # the double nearest to 8.33
    assert record["ppic_partnership"] == 37.13
    wide_dta = _dta(_download(client, statistician, "wide_dta"), tmp_path, "wide.dta")
    row = wide_dta[wide_dta.study_id == first.study_id].iloc[0]
    assert row["bpi_interference_bl"] == 8.33
    assert row["bpi_interference_chg"] == pytest.approx(-4.33, abs=1e-12)


def test_codebook_states_each_scores_precision(client, statistician, two_patients):
    entries = _csv(_download(client, statistician, "codebook_csv"))
    for entry in entries:
        if entry["column"] in ("bpi_severity", "ppic_partnership", "pih_overall",
                               "bpi_severity_bl", "pih_overall_chg"):
            assert "2 decimals" in entry["scoring_rule"], entry["column"]
            assert "half away from zero" in entry["scoring_rule"] or \
                entry["column"].endswith("_chg")


def test_missing_reasons_in_the_cohort_csv_and_its_codebook(client, statistician,
                                                             two_patients):
    first, second = two_patients
    header, *_ = csv.reader(io.StringIO(_download(client, statistician,
                                                  "cohort_csv").decode()))
    # The older layout's columns first and in place, the new ones at the end.
    assert header[-4:] == ["pih_form_version", "missing_reasons", "followup_status",
                           "lost_reason"]
    rows = {(r["study_id"], r["timepoint"]): r for r in _csv(
        _download(client, statistician, "cohort_csv"))}
    baseline = rows[(first.study_id, "baseline")]
    assert baseline["bpi_worst"] == "" and baseline["bpi_severity"] == ""
    assert baseline["missing_reasons"] == (
        "age:not_recorded;gender:not_recorded;bpi_worst:not_answered;"
        "bpi_enjoyment:not_answered;ppic_9:not_answered;ppic_10:not_answered;"
        "ppic_11:not_answered;bpi_severity:too_few_items")
    assert baseline["pih_form_version"] == "current"
    followup = rows[(first.study_id, "followup")]
    assert followup["missing_reasons"] == "age:not_recorded;gender:not_recorded"
    assert rows[(second.study_id, "baseline")]["missing_reasons"] == (
        "bpi_enjoyment:not_answered;ppic_9:not_answered;ppic_10:not_answered;"
        "ppic_11:not_answered")
    entries = {(e["file"], e["column"]): e for e in _csv(
        _download(client, statistician, "codebook_csv"))}
    assert "not_answered (.a in the .dta) = Not answered" in \
        entries[("cohort", "bpi_worst")]["missing"]
    assert "not_recorded" in entries[("cohort", "gender")]["missing"]
    assert "too_few_items" in entries[("cohort", "bpi_severity")]["missing"]
    assert "reversed" in entries[("cohort", "pih_form_version")]["allowed_values"]
    assert ("wide", "missing_reasons") in entries


def test_wide_csv_gives_reasons_for_absent_timepoints_and_changes(client, statistician,
                                                                 two_patients):
    first, second = two_patients
    wide = {r["study_id"]: r for r in _csv(_download(client, statistician, "wide_csv"))}
    reasons = dict(part.split(":") for part in
                   wide[second.study_id]["missing_reasons"].split(";"))
    assert reasons["fu_date"] == reasons["days_to_followup"] == "no_administration"
    assert reasons["bpi_severity_fu"] == reasons["bpi_severity_chg"] == "no_administration"
    assert "bpi_severity_bl" not in reasons
    first_reasons = dict(part.split(":") for part in
                         wide[first.study_id]["missing_reasons"].split(";"))
    assert first_reasons == {"age": "not_recorded", "gender": "not_recorded",
                             "bpi_severity_bl": "too_few_items",
                             "bpi_severity_chg": "too_few_items"}


def test_dta_holds_extended_missing_values_with_labels(client, statistician, two_patients,
                                                       tmp_path):
    first, second = two_patients
    content = _download(client, statistician, "cohort_dta")
    frame = _dta(content, tmp_path, "long.dta", convert_missing=True,
                 convert_categoricals=False)
    assert "missing_reasons" not in frame.columns
    baseline = frame[(frame.study_id == first.study_id) & (frame.timepoint == 1)].iloc[0]
    for column, letter in (("bpi_worst", ".a"), ("bpi_enjoyment", ".a"), ("ppic_11", ".a"),
                           ("age", ".b"), ("gender", ".b"), ("bpi_severity", ".c")):
        value = baseline[column]
        assert isinstance(value, StataMissingValue), column
        assert value.string == letter, column
    assert baseline["bpi_least"] == 5 and baseline["pih_1"] == 6
    other = frame[(frame.study_id == second.study_id)].iloc[0]
    assert other["age"] == 48 and other["gender"] == 2       # "female", the second code
    with pd.io.stata.StataReader(tmp_path / "long.dta") as reader:
        labels = reader.value_labels()
    assert labels["bpi_worst"][2_147_483_622] == "Not answered"            # .a
    assert labels["gender"][2_147_483_623] == "Not recorded"               # .b
    # (pandas cannot turn a date column holding .e into datetimes: read the day numbers)
    wide = _dta(_download(client, statistician, "wide_dta"), tmp_path, "wide.dta",
                convert_missing=True, convert_dates=False, convert_categoricals=False)
    row = wide[wide.study_id == second.study_id].iloc[0]
    assert row["bpi_severity_fu"].string == ".e"          # no follow-up
    assert row["fu_date"].string == ".e"


def test_a_drafts_empty_items_are_not_entered(make_patient, make_administration):
    patient = make_patient()
    make_administration(patient, answers={"bpi_worst": 3}, complete=False)
    (row,) = list(cohort_rows(include_drafts=True))
    cell = row[EXPORT_COLUMNS.index("missing_reasons")]
    reasons = dict(part.split(":") for part in cell.split(";"))
    assert reasons["bpi_least"] == "not_entered"
    assert reasons["bpi_severity"] == "too_few_items"
    assert "bpi_worst" not in reasons
    assert Patient.objects.count() == 1


@pytest.fixture
def declined_patient(make_patient):
    """A link's baseline: bpi_worst declined (Prefer not to answer), bpi_least left blank,
    stored with their reasons as self-completion stores them."""
    patient = make_patient()
    administration_save(patient=patient, timepoint="baseline",
                        administered_on=patient.consented_on,
                        answers=_answers(bpi_worst=None, bpi_least=None), by=None,
                        complete=True, source=AdministrationSource.LINK,
                        missing_reasons={"bpi_worst": "declined", "bpi_least": "not_answered"})
    return patient


def test_a_declined_item_is_declined_in_the_csv_the_dta_and_the_codebook(
        client, statistician, declined_patient, tmp_path):
    (row,) = _csv(_download(client, statistician, "cohort_csv"))
    assert row["bpi_worst"] == row["bpi_least"] == ""
    reasons = dict(part.split(":") for part in row["missing_reasons"].split(";"))
    assert reasons["bpi_worst"] == "declined"
    assert reasons["bpi_least"] == "not_answered"
    assert reasons["bpi_enjoyment"] == "not_answered"     # blank, no stored reason
    frame = _dta(_download(client, statistician, "cohort_dta"), tmp_path, "long.dta",
                 convert_missing=True, convert_categoricals=False)
    baseline = frame.iloc[0]
    assert baseline["bpi_worst"].string == ".f"
    assert baseline["bpi_least"].string == ".a"            # .a-.e keep their meaning
    assert baseline["bpi_severity"].string == ".c"
    with pd.io.stata.StataReader(tmp_path / "long.dta") as reader:
        labels = reader.value_labels()
    assert labels["bpi_worst"][2_147_483_627] == "Prefer not to answer"   # .f
    assert labels["bpi_worst"][2_147_483_622] == "Not answered"           # .a
    entries = {(e["file"], e["column"]): e for e in _csv(
        _download(client, statistician, "codebook_csv"))}
    assert "declined (.f in the .dta) = Prefer not to answer" in \
        entries[("cohort", "bpi_worst")]["missing"]
    assert "declined = Prefer not to answer" in \
        entries[("wide", "missing_reasons")]["allowed_values"]
    # The wide file has no items: the declined item shows as its score's reason.
    (wide,) = _csv(_download(client, statistician, "wide_csv"))
    assert "bpi_severity_bl:too_few_items" in wide["missing_reasons"]


def test_the_stored_reasons_cost_no_query_per_row(make_patient):
    """The JSON column is read in the export's own query: 1 row or 5, the same queries."""
    def export_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            rows = list(cohort_rows())
        at = EXPORT_COLUMNS.index("missing_reasons")
        assert all("bpi_worst:declined" in row[at] for row in rows)
        return len(captured)

    def add_patient():
        patient = make_patient()
        administration_save(patient=patient, timepoint="baseline",
                            administered_on=patient.consented_on,
                            answers=_answers(bpi_worst=None), by=None, complete=True,
                            missing_reasons={"bpi_worst": "declined"})

    add_patient()
    one = export_queries()
    for _ in range(4):
        add_patient()
    assert Administration.objects.count() == 5
    assert export_queries() == one
