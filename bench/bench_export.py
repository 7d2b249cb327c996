"""Benchmark the statistician export on PostgreSQL with 100,000 patients.

Measures, for the cohort CSV and the wide CSV as the download view streams them
(analysis.exports, the same generators StreamingHttpResponse iterates): time to the first
data chunk, rows per second over the whole stream, and peak resident memory of the
process doing the export; also the Stata .dta (built in memory, then sent from a
temporary file). Each export runs in its own subprocess so that its peak memory is its
own (ru_maxrss) and the baseline of an idle Django process is reported beside it.

    .venv/bin/python bench/bench_export.py                 # seeds pc_h5_bench if needed
    .venv/bin/python bench/bench_export.py --patients 20000 --reseed

The cohort is inserted in bulk (about 70 % followed up, every item answered, scores by
the project's scoring code), once; --reseed replaces it.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/pc_h5_bench"
CLINICS = 10


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()


def ensure_database(database_url: str) -> None:
    import psycopg2

    name = database_url.rsplit("/", 1)[1]
    server = database_url.rsplit("/", 1)[0] + "/postgres"
    connection = psycopg2.connect(server)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def seed(patients: int, reseed: bool) -> None:
    import datetime as dt

    import numpy as np
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from clinics.models import Clinic
    from patients.models import Patient
    from questionnaires.instruments import ITEMS
    from questionnaires.models import Administration, AdministrationStatus
    from questionnaires.services import apply_scores

    call_command("migrate", verbosity=0)
    get_user_model().objects.get_or_create(username="bench_statistician")
    if Patient.objects.count() == patients and not reseed:
        return
    # TRUNCATE, not DELETE: the audit trail's row triggers refuse deleting access-log rows
    # (and TRUNCATE empties the cohort's dependent tables in one statement)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE TABLE patients_patient CASCADE")
    rng = np.random.default_rng(5)
    clinics = [Clinic.objects.get_or_create(code=f"K{i}", defaults={"name": f"Clinic {i}"})[0]
               for i in range(CLINICS)]
    today = timezone.localdate()
    started = time.perf_counter()
    for start in range(0, patients, 5000):
        batch, admins = [], []
        for number in range(start, min(start + 5000, patients)):
            consented = today - dt.timedelta(days=int(rng.integers(130, 700)))
            patient = Patient(
                study_id=f"K-{number:06d}", clinic=clinics[number % CLINICS],
                consented_on=consented, consent_form_version="v1", consent_taken_by="bench",
                age=int(rng.integers(18, 90)), gender=("male", "female")[number % 2],
                ethnicity="white_british", education="below_a_level",
                pain_years=int(rng.integers(0, 30)), pain_sites=int(rng.integers(1, 6)))
            batch.append(patient)
            for timepoint, days in (("baseline", 0), ("followup", 91)):
                if timepoint == "followup" and rng.random() > 0.7:
                    break
                admin = Administration(
                    patient=patient, timepoint=timepoint, administered_on=consented
                    + dt.timedelta(days=days), status=AdministrationStatus.COMPLETE,
                    **{item.code: int(rng.integers(item.minimum, item.maximum + 1))
                       for item in ITEMS})
                apply_scores(admin)
                admins.append(admin)
        Patient.objects.bulk_create(batch)
        for admin in admins:
            admin.patient_id = admin.patient.pk
        Administration.objects.bulk_create(admins, batch_size=2000)
    from django.db import connection

    with connection.cursor() as cursor:       # fresh statistics, as autovacuum would give
        cursor.execute("ANALYZE")
    print(f"seeded {patients} patients in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)


def measure(kind: str) -> dict:
    """One export in this process: first chunk, rows/s, peak RSS (runs in a subprocess)."""
    from django.contrib.auth import get_user_model

    from analysis import exports
    from analysis.models import ExportLog

    user = get_user_model().objects.get(username="bench_statistician")
    idle_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    first = None
    size = 0
    if kind == "idle":
        return {"kind": kind, "peak_rss_mb": round(idle_mb, 1)}
    if kind in ("cohort_csv", "wide_csv"):
        stream = (exports.cohort_csv_stream if kind == "cohort_csv"
                  else exports.wide_csv_stream)(user=user)
        for index, chunk in enumerate(stream):
            if index == 1 and first is None:
                first = time.perf_counter() - started      # first chunk of data rows
            size += len(chunk)
    else:
        handle = exports.dta_export(user=user, shape=kind.split("_")[0])
        first = time.perf_counter() - started
        size = handle.seek(0, 2)
        handle.close()
    total = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    rows = ExportLog.objects.order_by("-pk").values_list("row_count", flat=True).first()
    return {"kind": kind, "rows": rows, "mb": round(size / 1e6, 1),
            "first_rows_s": round(first or total, 3), "total_s": round(total, 2),
            "rows_per_s": round(rows / total) if rows else None,
            # CPU of this process only (not PostgreSQL's): the rate on an idle machine.
            "rows_per_cpu_s": round(rows / cpu) if rows else None,
            "load_avg_1m": os.getloadavg()[0],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "idle_rss_mb_before": round(idle_mb, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--only", help=argparse.SUPPRESS)       # child process: one export
    parser.add_argument("--kinds", nargs="+",
                        default=["idle", "cohort_csv", "wide_csv", "cohort_dta"])
    args = parser.parse_args()
    if args.only:
        setup_django(args.database_url)
        print(json.dumps(measure(args.only)))
        return
    ensure_database(args.database_url)
    setup_django(args.database_url)
    seed(args.patients, args.reseed)
    for kind in args.kinds:
        output = subprocess.run(
            [sys.executable, __file__, "--database-url", args.database_url, "--only", kind],
            capture_output=True, text=True, timeout=900, check=True).stdout
        print(output.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
