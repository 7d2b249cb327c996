"""Dataset freezes (issue 17, item 4): `manage.py freeze`, `export_cohort --freeze`, the
frozen files and tables, and a freeze's immutability.

The cohort is small (two clinics of 10) so that each freeze's fit stays quick. Expected
numbers are computed here from the frozen file with the csv module, never read back from
the code under test.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from analysis.freezes.services import freeze_create
from analysis.models import DatasetFreeze, ExportLog, ModelRun, RefitRequest, RunStatus
from analysis.runs.compute import compute_results
from core.models import CommandExportLog
from questionnaires.models import (
    Administration,
    CohortSnapshot,
    FrozenRecordError,
    Timepoint,
)
from questionnaires.services import administration_save

from .factories import build_cohort

pytestmark = pytest.mark.django_db
LINE = re.compile(r"^freeze (\d+) sha256 ([0-9a-f]{64})$", re.MULTILINE)


@pytest.fixture
def cohort(clinic_a):
    """Too small for Table 2's models (each says why it is not fitted): quick to freeze."""
    return build_cohort(seed=11, sizes={"A": 10, "B": 10})


@pytest.fixture
def fitted_cohort(clinic_a):
    """Enough completers in three clinics for every Table 2 model."""
    return build_cohort(seed=11, sizes={"A": 12, "B": 12, "C": 12}, followup_rate=0.85)


def _freeze(label: str = "Paper 1") -> tuple[int, str, str]:
    out = StringIO()
    call_command("freeze", f"--label={label}", stdout=out)
    match = LINE.search(out.getvalue())
    assert match, out.getvalue()
    return int(match[1]), match[2], out.getvalue()


def _live_export() -> bytes:
    out = StringIO()
    call_command("export_cohort", "-", stdout=out)
    return out.getvalue().encode()


def _frozen_export(tmp_path, freeze_id: int) -> bytes:
    path = tmp_path / f"freeze_{freeze_id}.csv"
    call_command("export_cohort", "--freeze", str(freeze_id), str(path), stdout=StringIO())
    return path.read_bytes()


def _correct_a_followup(nurse) -> Administration:
    """Change the live data: every PPiC answer of one follow-up becomes 1."""
    admin = Administration.objects.filter(timepoint=Timepoint.FOLLOWUP).select_related(
        "patient").order_by("patient__study_id").first()
    answers = {**admin.answers, **{f"ppic_{i}": 1 for i in range(1, 12)}}
    return administration_save(patient=admin.patient, timepoint=admin.timepoint,
                               administered_on=admin.administered_on, answers=answers,
                               by=nurse, complete=True, base_version=admin.version,
                               reason="keying error")


def _paired_partnership_change(data: bytes) -> tuple[int, float]:
    """(pairs, mean follow-up minus baseline of ppic_partnership) from a cohort CSV."""
    by_patient: dict[str, dict[str, float]] = {}
    for row in csv.DictReader(io.StringIO(data.decode())):
        if row["ppic_partnership"]:
            by_patient.setdefault(row["study_id"], {})[row["timepoint"]] = float(
                row["ppic_partnership"])
    diffs = [p["followup"] - p["baseline"] for p in by_patient.values() if len(p) == 2]
    return len(diffs), sum(diffs) / len(diffs)


def _change_row(results: dict, key: str = "ppic_partnership") -> dict:
    return next(row for row in results["change"]["rows"] if row["key"] == key)


# --- the command and the frozen file ------------------------------------------------------

def test_freeze_prints_its_id_and_the_sha256_of_the_cohort_csv_export_writes(cohort):
    expected = _live_export()
    freeze_id, sha, _ = _freeze()
    assert sha == hashlib.sha256(expected).hexdigest()
    freeze = DatasetFreeze.objects.get(pk=freeze_id)
    assert bytes(freeze.snapshot.data) == expected
    rows = expected.count(b"\r\n") - 1
    assert freeze.snapshot.row_count == rows == Administration.objects.count()


def test_freeze_stores_codebook_and_versions(cohort):
    freeze_id, _, _ = _freeze()
    freeze = DatasetFreeze.objects.get(pk=freeze_id)
    codebook = bytes(freeze.codebook)
    assert codebook.startswith(b"file,column,label") and b"ppic_partnership" in codebook
    assert freeze.codebook_sha256 == hashlib.sha256(codebook).hexdigest()
    assert {"python", "django", "numpy", "pandas", "scipy", "git_commit"} <= set(
        freeze.versions)
    assert freeze.versions["git_commit"] == "unknown" or re.fullmatch(
        r"[0-9a-f]{40}(-dirty)?", freeze.versions["git_commit"])
    assert freeze.scoring_version == freeze.results["scoring_version"] == "2026.1"


def test_the_git_commit_is_unknown_without_a_repository(settings, tmp_path):
    from analysis.freezes.versions import git_commit

    settings.BASE_DIR = tmp_path  # no .git here or above (the test's temporary directory)
    assert git_commit() == "unknown"


def test_frozen_file_and_results_stay_when_the_live_data_change(cohort, tmp_path, nurse_a,
                                                                make_patient,
                                                                make_administration):
    freeze_id, sha, _ = _freeze()
    frozen_bytes = bytes(CohortSnapshot.objects.get(pk=freeze_id).data)
    results = DatasetFreeze.objects.get(pk=freeze_id).results
    _correct_a_followup(nurse_a)
    make_administration(make_patient(study_id="A-050"))

    assert _live_export() != frozen_bytes
    written = _frozen_export(tmp_path, freeze_id)
    assert written == frozen_bytes and hashlib.sha256(written).hexdigest() == sha
    assert DatasetFreeze.objects.get(pk=freeze_id).results == results
    live, _ = compute_results(options={})
    assert _change_row(live)["mean_change"] != _change_row(results)["mean_change"]


def test_the_freeze_fits_exactly_the_frozen_rows(fitted_cohort, nurse_a):
    """The tables come from the frozen file (its 2-decimal scores), computed here from
    the file with the csv module; a change made after the freeze does not reach them."""
    freeze = freeze_create(label="Paper 1", by_name="test")
    data = bytes(freeze.snapshot.data)
    _correct_a_followup(nurse_a)
    n_pairs, mean_change = _paired_partnership_change(data)
    change = _change_row(freeze.results)
    assert change["n"] == n_pairs > 5
    assert change["mean_change"] == pytest.approx(mean_change, abs=1e-9)
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert freeze.results["counts"]["administrations"] == len(rows)
    assert freeze.results["counts"]["patients"] == len({r["study_id"] for r in rows})
    completers = {r["study_id"] for r in rows if r["timepoint"] == "followup"}
    fitted = [m for m in freeze.results["table2"]["models"] if m["ok"]]
    assert len(fitted) == len(freeze.results["table2"]["models"])
    # the paper's population: completers' rows, every model variable present (all are)
    assert {(m["n_obs"], m["n_patients"]) for m in fitted if m["variant"] == "paper"} == {
        (2 * len(completers), len(completers))}


def test_an_empty_cohort_is_not_frozen(clinic_a, make_patient, make_administration):
    make_administration(make_patient(), complete=False)  # a draft is not in the file
    with pytest.raises(CommandError, match="no complete administrations yet: nothing to "
                                           "freeze"):
        call_command("freeze", "--label=Before recruitment", stdout=StringIO())
    assert not CohortSnapshot.objects.exists()


def test_export_cohort_freeze_999_names_the_id(tmp_path):
    with pytest.raises(CommandError, match="no freeze with id 999"):
        call_command("export_cohort", "--freeze", "999", str(tmp_path / "x.csv"),
                     stdout=StringIO())
    assert not (tmp_path / "x.csv").exists()
    assert CommandExportLog.objects.get().options["completed"] is False  # logged too


def test_export_cohort_freeze_refuses_the_live_filters(cohort, tmp_path):
    freeze_id, _, _ = _freeze()
    with pytest.raises(CommandError, match="--include-drafts do not apply"):
        call_command("export_cohort", "--freeze", str(freeze_id), "--include-drafts",
                     str(tmp_path / "x.csv"), stdout=StringIO())


def test_export_cohort_freeze_to_stdout_is_the_frozen_file(cohort):
    freeze_id, _, _ = _freeze()
    out = StringIO()
    call_command("export_cohort", "--freeze", str(freeze_id), "-", stdout=out)
    assert out.getvalue().encode() == bytes(CohortSnapshot.objects.get(pk=freeze_id).data)
    log = CommandExportLog.objects.latest("pk")
    assert (log.command, log.file, log.row_count, log.options) == (
        "export_cohort", "-", CohortSnapshot.objects.get(pk=freeze_id).row_count,
        {"include_withdrawn_excluded": False, "include_drafts": False, "freeze": freeze_id,
         "completed": True})


@pytest.mark.parametrize("label", ["", "   "])
def test_freeze_with_an_empty_label_is_refused_and_writes_nothing(cohort, label):
    with pytest.raises(CommandError, match="label: Give the freeze a label"):
        call_command("freeze", f"--label={label}", stdout=StringIO())
    assert not CohortSnapshot.objects.exists() and not DatasetFreeze.objects.exists()


def test_a_label_too_long_is_refused_by_name(cohort):
    with pytest.raises(CommandError, match="label: .*at most 200"):
        call_command("freeze", "--label=" + "x" * 201, stdout=StringIO())
    assert not CohortSnapshot.objects.exists()


def test_a_freeze_of_scores_of_an_older_scoring_version_is_refused(cohort):
    Administration.objects.filter(pk=Administration.objects.order_by("pk").first().pk).update(
        scoring_version="2025.9")
    with pytest.raises(CommandError, match=r"1 administrations hold scores of another "
                                           r"scoring version \(2025.9\).*manage.py rescore"):
        call_command("freeze", "--label=Paper 1", stdout=StringIO())
    assert not CohortSnapshot.objects.exists()


# --- a freeze never changes ---------------------------------------------------------------

def test_a_freeze_cannot_be_changed_or_deleted_through_the_models(cohort):
    freeze = freeze_create(label="Paper 1", by_name="test")
    freeze.snapshot.label = "changed"
    with pytest.raises(FrozenRecordError, match="cannot be changed"):
        freeze.snapshot.save()
    freeze.results = {}
    with pytest.raises(FrozenRecordError, match="cannot be changed"):
        freeze.save()
    with pytest.raises(FrozenRecordError, match="cannot be deleted"):
        freeze.delete()
    with pytest.raises(FrozenRecordError, match="cannot be deleted"):
        freeze.snapshot.delete()
    with pytest.raises(FrozenRecordError, match="cannot be changed"):
        DatasetFreeze.objects.update(results={})
    with pytest.raises(FrozenRecordError, match="cannot be deleted"):
        CohortSnapshot.objects.all().delete()
    stored = DatasetFreeze.objects.select_related("snapshot").get()
    assert stored.label == "Paper 1" and stored.results["counts"]["patients"] == 20


def _refused(sql: str, params: list) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as error:
        assert "not allowed" in str(error)
        return True
    return False


def test_the_database_refuses_update_and_delete_of_a_freeze(postgres_only):
    snapshot = CohortSnapshot(label="x", data=b"a\r\n", sha256="0" * 64, row_count=0)
    snapshot.save()
    DatasetFreeze(snapshot=snapshot, codebook=b"c", codebook_sha256="0" * 64,
                  scoring_version="t", results={}).save()
    for table in ("questionnaires_cohortsnapshot", "analysis_datasetfreeze"):
        column = "id" if table.startswith("questionnaires") else "snapshot_id"
        assert _refused(f"UPDATE {table} SET {column} = {column} WHERE {column} = %s",
                        [snapshot.pk]), table
        assert _refused(f"DELETE FROM {table} WHERE {column} = %s", [snapshot.pk]), table
    assert CohortSnapshot.objects.filter(pk=snapshot.pk, label="x").exists()


def test_the_admin_only_shows_a_freeze(client, manager):
    from django.contrib import admin

    model_admin = admin.site._registry[DatasetFreeze]
    request = type("R", (), {"user": manager})()
    assert model_admin.has_view_permission(request)
    assert not (model_admin.has_add_permission(request)
                or model_admin.has_change_permission(request)
                or model_admin.has_delete_permission(request))


# --- a freeze while a refit runs ----------------------------------------------------------

def test_a_freeze_does_not_wait_for_nor_touch_a_refit_in_progress(cohort, nurse_a):
    """Decision: a freeze fits its own models from its own snapshot, synchronously."""
    _correct_a_followup(nurse_a)  # a pending change in the refit outbox
    running = ModelRun.objects.create(status=RunStatus.RUNNING, attempts=1, trigger="tick")
    before = ModelRun.objects.values().get(pk=running.pk)
    pending = RefitRequest.objects.filter(taken_at__isnull=True).count()
    freeze_id, _, _ = _freeze()
    assert DatasetFreeze.objects.get(pk=freeze_id).results["counts"]["patients"] == 20
    assert ModelRun.objects.values().get(pk=running.pk) == before
    assert ModelRun.objects.count() == 1
    assert RefitRequest.objects.filter(taken_at__isnull=True).count() == pending > 0


# --- pages ----------------------------------------------------------------------------------

@pytest.fixture
def frozen(cohort) -> DatasetFreeze:
    return freeze_create(label="Paper 1 analysis", by_name="dm")


def test_dashboard_shows_the_freezes_tables_labelled(client, researcher, frozen, nurse_a):
    _correct_a_followup(nurse_a)
    client.force_login(researcher)
    response = client.get(reverse("analysis:dashboard"), {"freeze": frozen.pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Frozen dataset: Paper 1 analysis" in html
    assert frozen.sha256 in html
    assert f"{frozen.created_at:%Y}" in html
    assert 'data-testid="table2"' in html and 'data-testid="table1"' in html
    assert response.context["results"] == frozen.results
    # the variant links keep the freeze (Table 2's own links would drop it)
    assert f"?freeze={frozen.pk}&amp;variant=" in html
    assert "?variant=" not in html


def test_dashboard_freeze_variant_is_shown(client, researcher, frozen):
    client.force_login(researcher)
    variants = {m["variant"] for m in frozen.results["table2"]["models"]}
    other = sorted(variants - {"paper"})[0]
    response = client.get(reverse("analysis:dashboard"), {"freeze": frozen.pk,
                                                          "variant": other})
    assert response.context["variant"]["key"] == other


@pytest.mark.parametrize("value", ["999", "abc", ""])
def test_dashboard_unknown_freeze_is_404(client, researcher, frozen, value):
    client.force_login(researcher)
    assert client.get(reverse("analysis:dashboard"),
                      {"freeze": value}).status_code == 404


def test_nurses_get_no_freeze_page_file_or_tables(client, nurse_b, frozen):
    """The outsider: a nurse (of another clinic) has no analysis capability at all."""
    client.force_login(nurse_b)
    assert client.get(reverse("analysis:dashboard"), {"freeze": frozen.pk}).status_code == 403
    for file in ("cohort_csv", "codebook_csv", "results_json"):
        url = reverse("analysis:freeze_download", kwargs={"freeze_id": frozen.pk,
                                                          "file": file})
        assert client.get(url).status_code == 403
    assert client.get(reverse("analysis:freezes")).status_code == 403
    assert not ExportLog.objects.exists()


def test_statistician_downloads_the_frozen_file_byte_for_byte(client, statistician, frozen,
                                                              nurse_a):
    _correct_a_followup(nurse_a)
    client.force_login(statistician)
    url = reverse("analysis:freeze_download", kwargs={"freeze_id": frozen.pk,
                                                      "file": "cohort_csv"})
    response = client.get(url)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == frozen.sha256
    assert f"paincohort_freeze_{frozen.pk}_cohort.csv" in response["Content-Disposition"]
    log = ExportLog.objects.get()
    assert (log.user, log.row_count, log.options["freeze"]) == (
        statistician, frozen.snapshot.row_count, frozen.pk)


def test_researcher_gets_codebook_and_results_not_the_rows(client, researcher, frozen):
    client.force_login(researcher)

    def get(file):
        return client.get(reverse("analysis:freeze_download",
                                  kwargs={"freeze_id": frozen.pk, "file": file}))

    assert get("cohort_csv").status_code == 403
    assert get("codebook_csv").content == bytes(frozen.codebook)
    assert json.loads(get("results_json").content) == frozen.results
    assert get("no_such_file").status_code == 404


def test_download_of_an_unknown_freeze_is_404(client, statistician):
    client.force_login(statistician)
    url = reverse("analysis:freeze_download", kwargs={"freeze_id": 999, "file": "cohort_csv"})
    assert client.get(url).status_code == 404


def test_export_page_lists_each_freeze_with_its_files(client, statistician, researcher,
                                                      frozen):
    client.force_login(statistician)
    html = client.get(reverse("analysis:export")).content.decode()
    assert "Freeze" in html and "Paper 1 analysis" in html and frozen.sha256 in html
    files = reverse("analysis:freeze_download", kwargs={"freeze_id": frozen.pk,
                                                        "file": "cohort_csv"})
    assert files in html and f"?freeze={frozen.pk}" in html
    assert 'data-testid="freeze-new"' not in html  # freezing is the data manager's
    client.force_login(researcher)
    html = client.get(reverse("analysis:export")).content.decode()
    assert files not in html and frozen.sha256 in html


def test_data_manager_freezes_from_the_page(client, data_manager, cohort):
    client.force_login(data_manager)
    assert 'data-testid="freeze-new"' in client.get(reverse("analysis:export")).content.decode()
    assert client.get(reverse("analysis:freezes")).status_code == 200
    response = client.post(reverse("analysis:freezes"), {"label": "  Paper 2  "})
    freeze = DatasetFreeze.objects.select_related("snapshot").get()
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('analysis:dashboard')}?freeze={freeze.pk}"
    assert (freeze.label, freeze.snapshot.created_by) == ("Paper 2", "data_manager")
    assert hashlib.sha256(_live_export()).hexdigest() == freeze.sha256
    page = client.get(response["Location"])
    assert f"Frozen as freeze {freeze.pk}" in page.content.decode()


def test_the_freeze_page_refuses_an_empty_label_naming_the_field(client, data_manager,
                                                                 cohort):
    client.force_login(data_manager)
    response = client.post(reverse("analysis:freezes"), {"label": "   "})
    assert response.status_code == 200
    assert response.context["form"].errors == {"label": [
        "Give the freeze a label: what the frozen dataset is for, e.g. 'Paper 1 analysis'."]}
    assert not CohortSnapshot.objects.exists()


def test_the_freeze_page_refuses_scores_of_an_older_version(client, data_manager, cohort):
    Administration.objects.update(scoring_version="2025.9")
    client.force_login(data_manager)
    response = client.post(reverse("analysis:freezes"), {"label": "Paper 1"})
    assert response.status_code == 200
    assert "run `manage.py rescore` first" in response.context["form"].non_field_errors()[0]
    assert not CohortSnapshot.objects.exists()


def test_the_freeze_page_says_a_refit_in_progress_goes_on(client, data_manager, cohort):
    running = ModelRun.objects.create(status=RunStatus.RUNNING, attempts=1, trigger="tick")
    client.force_login(data_manager)
    html = client.get(reverse("analysis:freezes")).content.decode()
    assert f"the refit in progress (run {running.pk}) goes on meanwhile" in html


def test_only_data_managers_freeze(client, statistician, researcher, cohort):
    for user in (statistician, researcher):
        client.force_login(user)
        assert client.post(reverse("analysis:freezes"), {"label": "x"}).status_code == 403
    assert not CohortSnapshot.objects.exists()
