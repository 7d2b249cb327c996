"""Statistician exports: CSV, wide file, codebook, Stata .dta, snippets, log, access."""
import csv
import io

import pandas as pd
import pytest
from django.core.management import call_command
from django.urls import reverse

from analysis.exports import cohort_columns, neutralise, wide_columns
from analysis.models import ExportLog
from patients.models import Gender, Patient
from questionnaires.cohort_files.columns import EXPORT_COLUMNS
from questionnaires.instruments import ITEM_CODES, SCORE_CODES
from questionnaires.models import Administration, Timepoint

from .factories import STAFF_NAME, build_cohort


def _download(client, user, file):
    client.force_login(user)
    response = client.get(reverse("analysis:download", kwargs={"file": file}))
    assert response.status_code == 200, response.status_code
    if getattr(response, "streaming", False):
        return response, b"".join(response.streaming_content)
    return response, response.content


def _patient_named(make_patient, study_id: str) -> Patient:
    """A patient whose study ID the field's validator refuses today (older data, a
    hand-edited database): the exports must still hand no spreadsheet a formula."""
    patient = make_patient()
    Patient.objects.filter(pk=patient.pk).update(study_id=study_id)
    patient.refresh_from_db()
    return patient


def _rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


@pytest.fixture
def cohort(clinic_a):
    patients = build_cohort(seed=6, sizes={"A": 6})
    followed = Administration.objects.filter(timepoint=Timepoint.FOLLOWUP).count()
    assert 0 < followed < len(patients)  # both kinds of row in the wide file
    return patients


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("-2", "'-2"), ("+44", "'+44"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("A-017", "A-017"), ("", ""), (-2.5, -2.5), (None, None), (3, 3),
])
def test_neutralise_prefixes_formula_text_and_leaves_numbers(value, expected):
    assert neutralise(value) == expected


def test_cohort_csv_scores_equal_the_stored_scores(client, statistician, cohort):
    _, content = _download(client, statistician, "cohort_csv")
    rows = _rows(content)
    stored = {(a.patient.study_id, a.timepoint): a
              for a in Administration.objects.select_related("patient")}
    assert len(rows) == len(stored) == Administration.objects.count() > 6
    for row in rows:
        admin = stored[(row["study_id"], row["timepoint"])]
        for code in SCORE_CODES:
            expected = getattr(admin, code)   # full precision; the file has 2 decimals
            assert (float(row[code]) if row[code] else None) == (
                None if expected is None else pytest.approx(expected, abs=0.0051)), code
        for code in ITEM_CODES:
            assert int(row[code]) == getattr(admin, code)


def test_cohort_csv_has_the_contract_columns_in_order(client, statistician, cohort):
    _, content = _download(client, statistician, "cohort_csv")
    header = next(csv.reader(io.StringIO(content.decode())))
    assert tuple(header) == EXPORT_COLUMNS


def test_formula_study_ids_are_neutralised_but_numbers_stay_numeric(
        client, statistician, make_patient, make_administration):
    for study_id in ("=1+1", "-2", "@cmd"):
        patient = make_patient()
        make_administration(patient, "baseline")
        make_administration(patient, "followup",
                            answers={**{c: 2 for c in ITEM_CODES}})   # pain falls: change < 0
        Patient.objects.filter(pk=patient.pk).update(study_id=study_id)
    _, content = _download(client, statistician, "cohort_csv")
    assert sorted(row["study_id"] for row in _rows(content)) == sorted(
        ["'=1+1", "'=1+1", "'-2", "'-2", "'@cmd", "'@cmd"])
    _, wide = _download(client, statistician, "wide_csv")
    wide_rows = _rows(wide)
    assert {row["study_id"] for row in wide_rows} == {"'=1+1", "'-2", "'@cmd"}
    change = wide_rows[0]["bpi_severity_chg"]
    assert change.startswith("-") and float(change) < 0      # numeric cell untouched


def test_wide_file_changes_equal_followup_minus_baseline(client, statistician, cohort):
    _, content = _download(client, statistician, "wide_csv")
    rows = {row["study_id"]: row for row in _rows(content)}
    assert len(rows) == 6
    for patient in cohort:
        admins = {a.timepoint: a for a in patient.administrations.all()}
        row = rows[patient.study_id]
        for code in SCORE_CODES:
            before = getattr(admins["baseline"], code)
            assert float(row[f"{code}_bl"]) == pytest.approx(before, abs=0.0051)
            if "followup" in admins:
                after = getattr(admins["followup"], code)
                assert float(row[f"{code}_fu"]) == pytest.approx(after, abs=0.0051)
                # The change is that of the written values, exact at 2 decimals.
                assert float(row[f"{code}_chg"]) == pytest.approx(
                    float(row[f"{code}_fu"]) - float(row[f"{code}_bl"]), abs=1e-9)
            else:
                assert row[f"{code}_fu"] == row[f"{code}_chg"] == ""
        if "followup" in admins:
            days = (admins["followup"].administered_on - admins["baseline"].administered_on).days
            assert int(row["days_to_followup"]) == days


def test_codebook_covers_every_column_of_both_files(client, statistician, cohort):
    _, codebook = _download(client, statistician, "codebook_csv")
    entries = _rows(codebook)
    _, cohort_csv = _download(client, statistician, "cohort_csv")
    _, wide_csv = _download(client, statistician, "wide_csv")
    for file, content in (("cohort", cohort_csv), ("wide", wide_csv)):
        header = next(csv.reader(io.StringIO(content.decode())))
        described = [e["column"] for e in entries if e["file"] == file]
        assert described == header
    for entry in entries:
        assert entry["label"] and entry["type"] and entry["allowed_values"]
        assert entry["missing"] and entry["source"]
    scores = {e["column"]: e for e in entries if e["file"] == "cohort"}
    assert "all 4 must be answered" in scores["bpi_severity"]["scoring_rule"]
    assert scores["pih_1"]["allowed_values"] == "0-8"


def test_stata_file_round_trips_with_variable_and_value_labels(
        client, statistician, cohort, tmp_path):
    response, content = _download(client, statistician, "cohort_dta")
    path = tmp_path / "cohort.dta"
    path.write_bytes(content)
    frame = pd.read_stata(path)
    with pd.io.stata.StataReader(path) as reader:
        variable_labels = reader.variable_labels()
        value_labels = reader.value_labels()
    # The .dta carries the reasons as extended missing values, not as a column.
    assert list(frame.columns) == [c for c in EXPORT_COLUMNS if c != "missing_reasons"]
    assert variable_labels["bpi_worst"] == "Worst pain, last 24 h"
    assert variable_labels["pih_overall"] == "PIH overall (general index)"
    from questionnaires.cohort_files.missing import REASONS

    assert set(value_labels["gender"].values()) == {*Gender.labels, *(r.label for r in REASONS)}
    assert set(frame["gender"].astype(str)) <= set(Gender.labels)
    stored = {(a.patient.study_id, a.timepoint): a
              for a in Administration.objects.select_related("patient")}
    timepoints = {label: value for value, label in Timepoint.choices}
    for record in frame.to_dict("records"):
        admin = stored[(record["study_id"], timepoints[str(record["timepoint"])])]
        assert record["pih_overall"] == pytest.approx(admin.pih_overall, abs=0.0051)
        assert record["administered_on"].date() == admin.administered_on
        assert record["age"] == admin.patient.age


def test_streamed_export_is_logged_with_its_row_count_when_it_ends(
        client, statistician, cohort):
    client.force_login(statistician)
    response = client.get(reverse("analysis:download", kwargs={"file": "cohort_csv"}))
    log = ExportLog.objects.get()
    assert log.user == statistician and log.file == "paincohort_cohort.csv"
    assert log.row_count is None                       # not finished yet
    b"".join(response.streaming_content)
    log.refresh_from_db()
    assert log.row_count == Administration.objects.count()
    assert log.options["completed"] is True


def test_every_download_is_logged(client, data_manager, cohort):
    administrations = Administration.objects.count()
    for file, rows in (("wide_csv", 6), ("cohort_dta", administrations), ("wide_dta", 6),
                       ("codebook_csv", len(cohort_columns()) + len(wide_columns()))):
        _download(client, data_manager, file)
        log = ExportLog.objects.order_by("-pk").first()
        assert log.user == data_manager
        assert log.row_count == rows, file


def test_snippets_name_every_column_with_a_type(client, statistician):
    _, r_code = _download(client, statistician, "load_r")
    _, stata = _download(client, statistician, "load_stata")
    for column in cohort_columns():
        assert f"{column.name} = " in r_code.decode()
        assert f"label variable {column.name} " in stata.decode()
    assert 'administered_on = "Date"' in r_code.decode()
    assert 'pih_overall = "numeric"' in r_code.decode()


def test_export_contains_no_consent_staff_names(client, statistician, cohort):
    assert Patient.objects.filter(consent_taken_by=STAFF_NAME).count() == len(cohort)
    for file in ("cohort_csv", "wide_csv"):
        _, content = _download(client, statistician, file)
        assert STAFF_NAME.encode() not in content


@pytest.mark.parametrize("user_fixture, status", [
    ("nurse_a", 403), ("nurse_b", 403), ("researcher", 403),
    ("statistician", 200), ("data_manager", 200)])
def test_download_access_by_role(client, request, cohort, user_fixture, status):
    client.force_login(request.getfixturevalue(user_fixture))
    response = client.get(reverse("analysis:download", kwargs={"file": "cohort_csv"}))
    assert response.status_code == status
    assert ExportLog.objects.exists() == (status == 200)


@pytest.mark.parametrize("user_fixture, status", [
    ("nurse_a", 403), ("nurse_b", 403), ("researcher", 200), ("statistician", 200)])
def test_export_page_access_by_role(client, request, user_fixture, status):
    client.force_login(request.getfixturevalue(user_fixture))
    response = client.get(reverse("analysis:export"))
    assert response.status_code == status
    if user_fixture == "researcher":
        assert b"Downloads are for statisticians and data managers" in response.content
        assert reverse("analysis:download", kwargs={"file": "cohort_csv"}).encode() \
            not in response.content


def test_anonymous_user_is_sent_to_login(client, db):
    response = client.get(reverse("analysis:download", kwargs={"file": "cohort_csv"}))
    assert response.status_code == 302 and "login" in response["Location"]


def test_unknown_export_is_404(client, statistician):
    client.force_login(statistician)
    assert client.get(reverse("analysis:download", kwargs={"file": "secrets"})
                      ).status_code == 404


def test_cohort_csv_download_is_byte_identical_to_the_export_command(
        client, statistician, cohort, make_patient, make_administration):
    """One writer: the download and `manage.py export_cohort` give the same bytes, formula-
    like text, quotes, commas and line breaks included (on SQLite and PostgreSQL alike)."""
    answers = {code: 3 for code in ITEM_CODES} | {"bpi_worst": None, "ppic_1": None,
                                                  "pih_9": 7, "pih_10": None}
    for study_id in ('=A,"1"', "-2", "B\r\nline", "@x", "\tT", "Z-001"):
        make_administration(_patient_named(make_patient, study_id), "baseline",
                            answers=answers)
    Patient.objects.filter(study_id="Z-001").update(gender="")
    expected = io.StringIO()
    call_command("export_cohort", "-", stdout=expected)
    _, content = _download(client, statistician, "cohort_csv")
    assert content.decode("utf-8") == expected.getvalue()
    assert "\"'=A,\"\"1\"\"\"" in expected.getvalue()  # neutralised, then quoted
    assert "\n'-2," in expected.getvalue() and "\n'@x," in expected.getvalue()
