"""Issue 14 (researchers) and issue 19 item 5 on the dashboard: Table 2's compact
zero-variance marks and footnotes, the few-clinics note, the stray comment, plurals."""
import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from analysis.pages.dashboard import compact_marks, few_clinics_note, model_badges
from analysis.runs import services
from analysis.tests.factories import build_cohort


def _model(outcome, clinic=10.0, patient=5.0, n_clinics=3, converged=True, ok=True):
    return {"outcome": outcome, "ok": ok, "converged": converged, "n_clinics": n_clinics,
            "variances": {"clinic": clinic, "patient": patient, "residual": 20.0}}


def _footer(models):
    return [{"outcome": m["outcome"], "model": m, "badges": model_badges(m)} for m in models]


def test_zero_variances_become_marks_sharing_one_note_per_level():
    footer = _footer([_model("A", clinic=0.0), _model("B"), _model("C", clinic=0.0),
                      _model("D", clinic=0.0, patient=0.0, converged=False)])
    notes = compact_marks(footer)
    assert [(n["letter"], n["label"], n["outcomes"]) for n in notes] == [
        ("a", "Clinic variance 0", ["A", "C", "D"]), ("b", "Patient variance 0", ["D"])]
    assert notes[0]["text"].startswith("the clinic variance is estimated at 0")
    assert [m["letter"] for m in footer[3]["marks"]] == ["a", "b"]
    assert footer[1]["marks"] == [] and footer[0]["badges"] == []
    # errors stay as badges in the cell
    assert [b["label"] for b in footer[3]["badges"]] == ["Not converged"]


@pytest.mark.parametrize("counts, expected", [
    ([3, 3, 3], "only 3 clinics (fewer than 5)"),
    ([2, 3], "only 2 to 3 clinics (fewer than 5)"),
    ([1], "only 1 clinic (fewer than 5)"),
    ([4, 6], "only 4 clinics in some models (fewer than 5)"),
    ([5, 8], ""),
])
def test_few_clinics_note_names_how_many_clinics_inform_the_variance(counts, expected):
    text = few_clinics_note([_model(str(i), n_clinics=n) for i, n in enumerate(counts)])
    assert (expected in text) if expected else text == ""


def test_few_clinics_note_ignores_models_that_were_not_fitted():
    assert few_clinics_note([_model("A", n_clinics=2, ok=False), None,
                             _model("B", n_clinics=6)]) == ""


@pytest.fixture
def fitted(clinic_a, clinic_b):
    build_cohort(seed=11, sizes={"A": 14, "B": 16, "C": 12})
    run, _ = services.model_run_request(trigger="test", force=True)
    return services.model_run_execute(run_id=run.pk)


def test_dashboard_shows_the_few_clinics_note_and_no_stray_comment(client, researcher, fitted):
    client.force_login(researcher)
    html = client.get(reverse("analysis:dashboard")).content.decode()
    assert 'data-testid="few-clinics"' in html
    assert "estimated from only 3 clinics" in html
    assert "{#" not in html and "#}" not in html


@pytest.mark.parametrize("remaining, text", [
    (1, "1 more analysed patient needed"), (2, "2 more analysed patients needed")])
def test_patients_needed_is_singular_for_one(remaining, text, db):
    from analysis.pages.dashboard import target_summary

    target = target_summary({"followup": 3, "due": 4, "due_followup": 3},
                            {"fewest": 84 - remaining, "most": 84 - remaining})
    html = render_to_string("analysis/dashboard_detail.html", {
        "target": target, "freshness": {"changes": {"count": 0}}, "interviews": {},
        "recruitment": {"columns": [], "rows": []}, "outreach": None})
    assert text in " ".join(html.split())
