"""Issue 18 item 5: the .dta is written in chunks (memory of one chunk), and the file is
byte for byte the one pandas writes from the whole frame (the former writer, kept as
write_dta_in_memory), extended missing values, labels and value labels included."""
import datetime as dt
import re

import pandas as pd
import pytest

from analysis.exports import stata
from analysis.exports.codebook import cohort_columns, wide_columns
from analysis.exports.wide import wide_rows
from patients.models import Patient
from questionnaires.cohort_files.writer import cohort_values
from questionnaires.models import AdministrationSource, MissingReason, PihFormVersion
from questionnaires.services import administration_save
from tests.factories import full_answers


@pytest.fixture
def cohort(make_patient, nurse_a, clinic_b):
    for number in range(7):
        patient = make_patient(clinic=clinic_b if number % 2 else None,
                               gender="" if number == 3 else "female",
                               age=None if number == 4 else 40 + number)
        answers = full_answers(bpi=number, ppic=1 + number % 5, pih=1 + number % 7)
        stored = {}
        if number in (1, 5):
            answers |= {"bpi_worst": None, "bpi_least": None, "bpi_average": None,
                        "bpi_now": None, "ppic_2": None}
            stored = {"bpi_worst": MissingReason.DECLINED} if number == 5 else {}
        administration_save(
            patient=patient, timepoint="baseline", administered_on=patient.consented_on,
            answers=answers, by=None if stored else nurse_a, complete=True,
            missing_reasons=stored,
            pih_form_version=PihFormVersion.REVERSED if number == 2 else
            PihFormVersion.CURRENT,
            **({"source": AdministrationSource.LINK} if stored else {}))
        if number % 3:
            administration_save(
                patient=patient, timepoint="followup",
                administered_on=patient.consented_on + dt.timedelta(days=95),
                answers=full_answers(bpi=(number + 2) % 11), by=nurse_a, complete=True)
    Patient.objects.filter(study_id="A-002").update(followup_status="lost",
                                                   lost_reason="discharged")


def _stamp_free(handle) -> bytes:
    handle.seek(0)
    return re.sub(rb"<timestamp>.*?</timestamp>", b"", handle.read(), count=1)


@pytest.mark.parametrize("chunk_rows", [1, 3, 5000])
@pytest.mark.parametrize("shape", ["cohort", "wide"])
def test_the_chunked_dta_is_the_whole_frames_file(cohort, monkeypatch, chunk_rows, shape):
    monkeypatch.setattr(stata, "CHUNK_ROWS", chunk_rows)

    def rows():
        return wide_rows(cohort_values()) if shape == "wide" else cohort_values()

    columns = wide_columns() if shape == "wide" else cohort_columns()
    chunked, count = stata.write_dta(rows(), columns)
    whole, whole_count = stata.write_dta_in_memory(rows(), columns)
    assert count == whole_count == (7 if shape == "wide" else 11)
    assert _stamp_free(chunked) == _stamp_free(whole)


def test_the_chunked_dta_reads_back_with_reasons_and_status(cohort):
    handle, _ = stata.write_dta(cohort_values(), cohort_columns())
    frame = pd.read_stata(handle, convert_missing=True, convert_categoricals=False)
    declined = frame.loc[(frame["study_id"] == "B-003") & (frame["timepoint"] == 1)]
    assert str(declined["bpi_worst"].iloc[0]) == ".f"      # declined
    assert str(declined["bpi_least"].iloc[0]) == ".a"      # not answered
    lost = frame.loc[frame["study_id"] == "A-002", "followup_status"]
    assert set(lost) == {3}  # lost = third category, numbered in the codebook's order
    assert frame["study_id"].str.len().max() == 5


def test_an_empty_cohort_gives_an_empty_file(db):
    chunked, count = stata.write_dta(iter(()), cohort_columns())
    whole, _ = stata.write_dta_in_memory(iter(()), cohort_columns())
    assert count == 0
    assert _stamp_free(chunked) == _stamp_free(whole)
    chunked.seek(0)
    assert pd.read_stata(chunked).empty
