"""Benchmark every researcher page, warmed, at national scale on PostgreSQL.

Times each page of analysis/urls.py that a researcher can open (the dashboard, the
interview sub-sample, data quality, the exports list; the study target as a data manager,
the only role allowed there) and a nurse's clinic worklist for reference, with Django's
test Client in-process (server time: view, queries, template). Each page is requested
twice to warm it (imports, connection, caches of the process) and then timed `--repeat`
times; the median and p95 (nearest rank) are printed with the queries of one request.

    .venv/bin/python bench/bench_pages.py                       # database bench_pages
    .venv/bin/python bench/bench_pages.py --database-url postgres://.../other --repeat 20

The cohort is reused when the database already has patients; otherwise it is made with
`manage.py migrate` and `manage.py seed_demo --patients 100000 --clinics 30` (~1 min,
~450 MB). Missing pieces are added once and kept: 26 interviewees, 6 invited and 4
declined completers (the study's qualitative phase), and a successful model run for the
dashboard (a full fit in this process, a few minutes at 100,000 patients).
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from django.utils import timezone

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bench_pages"
INTERVIEWEES, INVITED, DECLINED = 26, 6, 4

from bench_entry import _create_database as create_database  # noqa: E402


def manage(url: str, *args: str) -> None:
    """seed_demo refuses to run without DEBUG, so it runs as its own local-settings process."""
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.local",
           "DEBUG": "1", "CELERY_BROKER_URL": ""}
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def ensure_cohort(url: str, patients: int, clinics: int) -> None:
    create_database(url)   # bench_entry's: creates it if missing
    manage(url, "migrate", "-v0")
    manage(url, "seed_demo", "--patients", str(patients), "--clinics", str(clinics),
           "--if-empty", "--no-refit")


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["CELERY_BROKER_URL"] = ""
    import django

    django.setup()


def ensure_interview_contacts() -> None:
    """The first completers by study ID: interviewed, then invited, then declined."""
    from django.contrib.auth import get_user_model

    from analysis.models import InterviewContact, InterviewStatus
    from analysis.services import interview_contact_save
    from patients.models import FollowUpStatus, Patient

    if InterviewContact.objects.exists():
        return
    researcher = get_user_model().objects.get(username="researcher")
    completers = (Patient.objects.filter(followup_status=FollowUpStatus.COMPLETED)
                  .order_by("study_id")[:INTERVIEWEES + INVITED + DECLINED])
    statuses = ([InterviewStatus.INTERVIEWED] * INTERVIEWEES + [InterviewStatus.INVITED] * INVITED
                + [InterviewStatus.DECLINED] * DECLINED)
    day = timezone.localdate() - dt.timedelta(days=30)
    for patient, status in zip(completers, statuses, strict=True):
        interviewed = status == InterviewStatus.INTERVIEWED
        interview_contact_save(patient=patient, status=status, by=researcher, invited_on=day,
                               interviewed_on=day if interviewed else None,
                               duration_minutes=45 if interviewed else None,
                               place="clinic" if interviewed else "")


def ensure_model_run() -> None:
    from analysis.models import ModelRun, RunStatus
    from analysis.runs.services import model_run_execute, model_run_request

    if ModelRun.objects.filter(status=RunStatus.SUCCEEDED).exists():
        return
    started = time.perf_counter()
    run, _ = model_run_request(trigger="bench_pages", force=True)
    run = model_run_execute(run_id=run.pk)
    print(f"model run {run.pk}: {run.status} in {time.perf_counter() - started:.0f} s",
          flush=True)


def pages() -> list[tuple[str, str, str]]:
    """(label, URL, username) of every page timed."""
    from django.urls import reverse

    return [
        ("dashboard", reverse("analysis:dashboard"), "researcher"),
        ("interviews", reverse("analysis:interviews"), "researcher"),
        ("quality", reverse("analysis:quality"), "researcher"),
        ("exports list", reverse("analysis:export"), "researcher"),
        ("study target (data manager)", reverse("analysis:target"), "datamanager"),
        ("nurse worklist, clinic A (reference)",
         reverse("clinics:worklist", args=["A"]), "nurse_a"),
    ]


def time_page(url: str, username: str, repeat: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        client.get(url)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"median": statistics.median(times),
            "p95": times[max(0, math.ceil(0.95 * len(times)) - 1)],
            "queries": len(queries)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--clinics", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--only", default="", help="time only pages whose label contains this")
    args = parser.parse_args()
    ensure_cohort(args.database_url, args.patients, args.clinics)
    setup_django(args.database_url)
    ensure_interview_contacts()
    ensure_model_run()
    from patients.models import Patient
    from questionnaires.models import Administration

    print(f"{Patient.objects.count():,} patients, {Administration.objects.count():,} "
          f"administrations; {args.repeat} timed requests per page after 2 to warm up")
    print("| page | median ms | p95 ms | queries |\n|---|---:|---:|---:|")
    for label, url, username in pages():
        if args.only not in label:
            continue
        result = time_page(url, username, args.repeat)
        print(f"| {label} | {result['median']:.0f} | {result['p95']:.0f} | "
              f"{result['queries']} |", flush=True)


if __name__ == "__main__":
    main()
