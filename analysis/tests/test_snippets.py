"""The R and Stata snippets (issue 19 item 5) reproduce the dashboard's Table 2 elsewhere.

R is run on an exported cohort and every coefficient, standard error, variance and ICC is
compared with the dashboard's run (rel. 1e-5); skipped where Rscript or lme4 is missing.
Stata is not installed here: its do-file is checked for its structure (every derived
variable, every model with `estat icc`).
"""
import csv
import re
import shutil
import subprocess

import pytest

from analysis.exports.snippets import R_RESULTS_FILE, r_snippet, stata_snippet
from analysis.runs import services
from analysis.stats.regression import COVARIATES, VARIANT_TERMS
from analysis.stats.results import OUTCOMES, VARIANTS
from analysis.tests.factories import build_cohort
from patients.models import Education, Patient
from questionnaires.cohort_files.precision import score_text
from questionnaires.cohort_files.writer import write_cohort_csv
from questionnaires.instruments import SCORE_CODES
from questionnaires.models import Administration

DERIVED = ["completer", "followup", "baseline_severity", "pain_years_group", "pain_sites_group",
           "partnership", "partnership_between", "partnership_within", "attrition_group",
           *(name for name in COVARIATES if name != "age")]   # age is a column of the file


def _r_ready() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", "library(lme4)"], capture_output=True)
    return probe.returncode == 0


@pytest.fixture
def exported(clinic_a, clinic_b, tmp_path):
    """A cohort with the exclusions the rules handle, its CSV and the dashboard's run.

    The stored scores are set to the 2 decimals the CSV writes (the codebook's
    precision), so that R reads exactly the numbers the run fitted.
    """
    build_cohort(seed=11, sizes={"A": 22, "B": 26, "C": 18})
    rows = list(Administration.objects.order_by("pk"))
    for row in rows:
        for code in SCORE_CODES:
            value = getattr(row, code)
            setattr(row, code, None if value is None else float(score_text(value, 2)))
    followups = [row for row in rows if row.timepoint == "followup"]
    followups[0].ppic_partnership = None          # one follow-up row out of every model
    followups[1].pih_knowledge = None             # one row out of the knowledge models
    Administration.objects.bulk_update(rows, SCORE_CODES)
    Patient.objects.filter(pk=followups[2].patient_id).update(education="")   # patient out
    Patient.objects.filter(pk=followups[3].patient_id).update(education=Education.NONE)
    run, _ = services.model_run_request(trigger="test", force=True)
    run = services.model_run_execute(run_id=run.pk)
    with open(tmp_path / "paincohort_cohort.csv", "w", encoding="utf-8", newline="") as out:
        write_cohort_csv(out)
    return run, tmp_path


def _with_followup_columns(path) -> None:
    """The file as the cohort writers make it once they end rows with followup_status and
    lost_reason (branch h-scale): the columns appended from the patients' records."""
    status = dict(Patient.objects.values_list("study_id", "followup_status"))
    reason = dict(Patient.objects.values_list("study_id", "lost_reason"))
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[0] += ["followup_status", "lost_reason"]
    for row in rows[1:]:
        row += [status[row[0]], reason[row[0]]]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


@pytest.mark.skipif(not _r_ready(), reason="Rscript with lme4 is not installed")
def test_r_snippet_reproduces_every_table2_model_of_the_dashboard(exported, monkeypatch):
    from analysis.exports import codebook

    run, folder = exported
    _with_followup_columns(folder / "paincohort_cohort.csv")
    monkeypatch.setattr(codebook, "EXPORT_COLUMNS", (*codebook.EXPORT_COLUMNS,
                                                     "followup_status", "lost_reason"))
    assert Patient.objects.filter(followup_status="lost").exists()
    (folder / "load_paincohort.R").write_text(r_snippet(), encoding="utf-8")
    done = subprocess.run(["Rscript", "load_paincohort.R"], cwd=folder, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    # R's table of the lost patients' reasons (printed first): the run's attrition counts
    keys, counts = [line.split() for line in done.stdout.splitlines() if line.strip()][:2]
    assert dict(zip(keys, map(int, counts), strict=True)) == {
        r["key"]: r["n"] for r in run.results["attrition"]["lost_reasons"] if r["n"]}
    with open(folder / R_RESULTS_FILE, encoding="utf-8") as handle:
        r_rows = list(csv.DictReader(handle))
    by_model: dict[tuple[str, str], dict[str, dict]] = {}
    for row in r_rows:
        term = "Intercept" if row["term"] == "(Intercept)" else row["term"]
        by_model.setdefault((row["outcome"], row["variant"]), {})[term] = row
    models = run.results["table2"]["models"]
    assert len(models) == len(by_model) == 15
    knowledge = next(m for m in models if m["outcome"] == "pih_knowledge")
    overall = next(m for m in models if m["outcome"] == "pih_overall")
    assert knowledge["n_obs"] < overall["n_obs"]            # the exclusions are exercised
    for model in models:
        assert model["ok"], model["error"]
        r_terms = by_model[(model["outcome"], model["variant"])]
        assert set(r_terms) == {t["term"] for t in model["terms"]}, model["formula"]
        first = next(iter(r_terms.values()))
        assert int(first["n_obs"]) == model["n_obs"]
        for term in model["terms"]:
            r_term = r_terms[term["term"]]
            # rel. 1e-5, or 1e-5 of its SE for a coefficient near 0 (age, ~0.02, whose
            # last digits the flat likelihood leaves to the optimiser)
            assert float(r_term["coef"]) == pytest.approx(term["coef"], rel=1e-5,
                                                          abs=1e-5 * term["se"])
            assert float(r_term["se"]) == pytest.approx(term["se"], rel=1e-5)
        for level in ("clinic", "patient", "residual"):
            assert float(first[f"var_{level}"]) == pytest.approx(
                model["variances"][level], rel=1e-5, abs=1e-6), (model["formula"], level)
        for level in ("clinic", "patient"):
            assert float(first[f"icc_{level}"]) == pytest.approx(
                model["icc"][level], rel=1e-5, abs=1e-7)
        assert float(first["loglik"]) == pytest.approx(model["loglik"], rel=1e-7)


def test_r_snippet_fits_every_model_with_ml_and_both_levels():
    code = r_snippet()
    assert "reml <- FALSE" in code and "REML = reml" in code
    assert "(1 | clinic) + (1 | clinic:study_id)" in code
    for key, _ in OUTCOMES:
        assert f'"{key}"' in code
    for variant in VARIANTS:
        terms = " + ".join([*VARIANT_TERMS[variant["key"]], *COVARIATES])
        assert f'{variant["key"]} = "{terms}"' in code
    for name in DERIVED:
        assert f"cohort${name} <-" in code or f"rows${name} <-" in code, name
    # the derivations use the codes: they come before the labels
    assert code.index("cohort$female <-") < code.index("cohort$gender <- factor(")


def test_stata_snippet_derives_every_variable_and_fits_every_model_with_estat_icc():
    code = stata_snippet()
    for name in DERIVED:
        assert re.search(rf"(generate|egen)( byte| double| long)? {name} =", code), name
    assert 'local method "ml"' in code
    assert code.count("|| clinic_id: || patient_id:, `method'") == len(VARIANTS)
    assert code.count("estat icc") == len(VARIANTS)
    assert "foreach y in " + " ".join(key for key, _ in OUTCOMES) + " {" in code
    for variant in VARIANTS:
        terms = " ".join(VARIANT_TERMS[variant["key"]])
        assert f"mixed `y' {terms} $covariates if _use" in code
    assert "global covariates " + " ".join(COVARIATES) in code
    assert "egen double partnership_between = mean(cond(_use, partnership, .))" in code
    assert code.index("generate byte female") < code.index("encode gender,")
    # the population rules of analysis/stats/regression.py
    assert '"`population\'" == "completers_both_rows"' in code
    assert '"`population\'" == "all_available"' in code


def test_snippets_use_the_followup_columns_only_when_the_file_has_them():
    assert 'if (all(c("followup_status", "lost_reason") %in% names(cohort)))' in r_snippet()
    assert "capture confirm variable followup_status lost_reason" in stata_snippet()


# --- the codebook's follow-up columns ----------------------------------------------------------

def test_codebook_documents_followup_status_and_lost_reason_with_the_models_choices():
    from analysis.exports.codebook import followup_columns
    from patients.models import FollowUpStatus, LostReason

    columns = followup_columns()
    status, reason = columns["followup_status"], columns["lost_reason"]
    assert [code for code, _ in status.categories] == list(FollowUpStatus.values)
    assert [code for code, _ in reason.categories] == list(LostReason.values)
    assert status.type == reason.type == "category"
    assert "lost_reason" in status.rule and "followup_status = lost" in reason.rule
    assert reason.missing.startswith("empty cell = not lost")


def test_codebook_describes_the_followup_columns_once_the_file_has_them(monkeypatch):
    from analysis.exports import codebook
    from questionnaires.cohort_files.columns import EXPORT_COLUMNS

    monkeypatch.setattr(codebook, "EXPORT_COLUMNS", (*EXPORT_COLUMNS, "followup_status",
                                                     "lost_reason"))
    names = [column.name for column in codebook.cohort_columns()]
    assert names[-2:] == ["followup_status", "lost_reason"]
    rows = [row for row in codebook.codebook_rows() if row[1] == "lost_reason"]
    assert rows and rows[0][0] == "cohort" and "did_not_attend = Did not attend" in rows[0][4]
    assert 'lost_reason = "character"' in r_snippet()
    assert 'label variable followup_status "follow-up status"' in stata_snippet()
