"""Benchmark the whole analysis run and the dashboard page at national scale.

Times, on a cohort already in the database (seed it first, once):

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE pc_t1_bench'
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/pc_t1_bench
    .venv/bin/python manage.py migrate
    .venv/bin/python manage.py seed_demo --patients 100000 --clinics 30 --force \
        --no-refit --end-date 2026-11-28
    .venv/bin/python bench/bench_analysis.py [--repeat 3]

load_cohort, patients_wide, the row selection, Table 1, Table 2 (15 models), and
`services.compute_results` (everything, as a run computes it), each the best and median of
--repeat runs; then one stored run and the dashboard page (researcher, warmed: the first
request is discarded) rendered --repeat times through Django's test client.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()


def _timed(function, repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return times, result


def _line(name: str, times: list[float]) -> None:
    print(f"| {name} | {min(times):.2f} s | {statistics.median(times):.2f} s |")


def analysis_steps(repeat: int) -> None:
    from analysis.runs import services
    from analysis.stats import descriptives, regression
    from analysis.stats.cohort import load_cohort, patients_wide

    times, cohort = _timed(load_cohort, repeat)
    _line(f"load_cohort ({len(cohort):,} rows)", times)
    times, patients = _timed(lambda: patients_wide(cohort), repeat)
    _line(f"patients_wide ({len(patients):,} patients)", times)
    times, selection = _timed(lambda: regression.selection_for(
        cohort, patients, population="completers"), repeat)
    _line("model frame and row selection", times)
    analysed = patients.loc[patients["study_id"].isin(selection.patients())]
    times, _ = _timed(lambda: descriptives.table1(analysed, population="completers"), repeat)
    _line(f"table1 ({len(analysed):,} patients analysed, 31 columns)", times)
    times, table2 = _timed(lambda: regression.table2(
        cohort, patients, population="completers", selection=selection), repeat)
    rows = max(m["n_obs"] for m in table2["models"])
    _line(f"table2 (15 models, up to {rows:,} rows)", times)
    times, (_, timings) = _timed(lambda: services.compute_results(options={}), repeat)
    _line("compute_results (everything)", times)
    print(f"\nsteps of the last compute_results: {timings}")


def _verified_client(user):
    """A test client signed in as the user with the second factor already passed: the
    demo researcher has an authenticator, and an unverified session is redirected to the
    code page (which would time the redirect, not the dashboard)."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def dashboard_page(repeat: int) -> None:
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    from analysis.runs import services

    run, _ = services.model_run_request(trigger="bench_analysis", force=True)
    services.model_run_execute(run_id=run.pk)
    client = _verified_client(get_user_model().objects.get(username="researcher"))
    url = reverse("analysis:dashboard")
    assert client.get(url).status_code == 200  # warm: templates, session, caches
    times, response = _timed(lambda: client.get(url), repeat)
    assert response.status_code == 200
    _line(f"dashboard page, warmed ({len(response.content) / 1024:.0f} KB)", times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    _setup()
    print("| step | best | median |\n|---|---:|---:|")
    analysis_steps(args.repeat)
    print()
    dashboard_page(args.repeat)


if __name__ == "__main__":
    main()
