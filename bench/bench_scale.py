"""Benchmark issue 18 items 4 and 5 against raw COPY: the refit process, the cohort files
(CSV, .dta) and the import, each in its own process on an already seeded PostgreSQL
database (bench/bench_seed.py or `seed_demo --patients N --clinics 30`).

    .venv/bin/python bench/bench_scale.py --database-url postgres://.../paincohort_scale_100k
    .venv/bin/python bench/bench_scale.py --root /tmp/scale_before ...   # another checkout

--root runs the same steps with another checkout's code (e.g. `git archive main`), so the
before and after figures come from one script on one machine. Each step is a child
process: wall time of the step itself (Django set up, imports done), peak RSS of the
process (ru_maxrss), and beside it the raw COPY the step is compared with:

- refit: `model_run_request(force=True)` then `model_run_execute` (fingerprint, load,
  every table); COPY: `COPY (the frame's SELECT) TO STDOUT` into memory;
- cohort_csv: `export_cohort FILE`'s writer (write_cohort_csv); COPY: the same rows'
  SELECT (EXPORT_LOOKUPS) TO STDOUT as CSV into a file;
- cohort_dta: dta_export of the cohort (time to the finished temporary file);
- import: `import_cohort FILE` (the cohort CSV just exported) into an empty database of
  the same clinics; COPY: `COPY administrations-shaped temp table FROM` that file.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _setup(root: Path, url: str) -> None:
    sys.path.insert(0, str(root))
    os.chdir(root)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DEBUG"] = "1"
    os.environ["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/6"
    import django

    django.setup()


def _peak() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _copy_out(sql: str, params, target) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        query = cursor.mogrify(sql, params).decode()
        cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", target)
    return time.perf_counter() - started


def refit() -> dict:
    import io

    from analysis.runs.services import model_run_execute, model_run_request
    from analysis.stats import cohort

    baseline = _peak()
    started = time.perf_counter()
    run, _ = model_run_request(force=True, trigger="bench_scale")
    run = model_run_execute(run_id=run.pk)
    seconds = time.perf_counter() - started
    assert run.status == "succeeded", run.error
    peak = _peak()
    queryset = cohort.cohort_queryset().order_by()
    sql, params = queryset.query.sql_with_params()
    copy = _copy_out(sql, params, io.StringIO())
    return {"step": "refit", "seconds": round(seconds, 2), "copy_s": round(copy, 2),
            "ratio": round(seconds / copy, 1), "peak_mb": peak, "idle_mb": baseline,
            "rows": run.results["counts"]["administrations"]}


def cohort_csv(path: str) -> dict:
    from questionnaires.cohort_files import writer
    from questionnaires.cohort_files.columns import EXPORT_LOOKUPS

    baseline = _peak()
    started = time.perf_counter()
    with open(path, "w", newline="", encoding="utf-8") as stream:
        rows = writer.write_cohort_csv(stream)
    seconds = time.perf_counter() - started
    peak = _peak()
    queryset = writer.cohort_queryset().values_list(*EXPORT_LOOKUPS)
    sql, params = queryset.query.sql_with_params()
    with tempfile.TemporaryFile("w+") as target:
        copy = _copy_out(sql, params, target)
    return {"step": "cohort_csv", "seconds": round(seconds, 2), "copy_s": round(copy, 2),
            "ratio": round(seconds / copy, 1), "peak_mb": peak, "idle_mb": baseline,
            "rows": rows, "mb": round(Path(path).stat().st_size / 1e6, 1)}


def cohort_dta() -> dict:
    from django.contrib.auth import get_user_model

    from analysis import exports

    user, _ = get_user_model().objects.get_or_create(username="bench_scale")
    baseline = _peak()
    started = time.perf_counter()
    handle = exports.dta_export(user=user, shape="cohort")
    seconds = time.perf_counter() - started
    size = handle.seek(0, 2)
    handle.close()
    return {"step": "cohort_dta", "seconds": round(seconds, 2), "peak_mb": _peak(),
            "idle_mb": baseline, "mb": round(size / 1e6, 1)}


def import_file(path: str) -> dict:
    from django.core.management import call_command
    from django.db import connection

    baseline = _peak()
    started = time.perf_counter()
    call_command("import_cohort", path, verbosity=0)
    seconds = time.perf_counter() - started
    peak = _peak()
    with open(path, encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
    with connection.cursor() as cursor:
        columns = ", ".join(f'"{name}" text' for name in header)
        cursor.execute(f"CREATE TEMP TABLE bench_copy ({columns})")
        copy_started = time.perf_counter()
        with open(path, encoding="utf-8") as handle:
            cursor.copy_expert("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER)", handle)
        copy = time.perf_counter() - copy_started
    return {"step": "import", "seconds": round(seconds, 2), "copy_s": round(copy, 2),
            "ratio": round(seconds / copy, 1), "peak_mb": peak, "idle_mb": baseline}


def _child(root: Path, url: str, step: str, path: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", step, "--root", str(root),
                          "--database-url", url, "--file", path],
                         capture_output=True, text=True, timeout=1800)
    if out.returncode:
        return {"step": step, "failed": out.stderr[-1500:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _empty_database(url: str, root: Path, clinics_from: str) -> str:
    import psycopg2

    server, name = url.rsplit("/", 1)
    target = f"{name}_import"
    connection = psycopg2.connect(f"{server}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{target}"')
        cursor.execute(f'CREATE DATABASE "{target}"')
    connection.close()
    env = {**os.environ, "DATABASE_URL": f"{server}/{target}",
           "DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "1"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], cwd=root, env=env,
                   check=True)
    source = psycopg2.connect(clinics_from)
    with source.cursor() as cursor:
        cursor.execute("SELECT code, name FROM clinics_clinic")
        clinics = cursor.fetchall()
    source.close()
    target_connection = psycopg2.connect(f"{server}/{target}")
    with target_connection, target_connection.cursor() as cursor:
        cursor.executemany("INSERT INTO clinics_clinic (code, name, active, next_patient_number) "
                           "VALUES (%s, %s, true, 0)", clinics)
    target_connection.close()
    return f"{server}/{target}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--root", default=str(HERE), help="checkout whose code runs")
    parser.add_argument("--steps", nargs="+",
                        default=["refit", "cohort_csv", "cohort_dta", "import"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = Path(args.root).resolve()
    if args.child:
        _setup(root, args.database_url)
        step = args.child
        result = (refit() if step == "refit" else cohort_csv(args.file)
                  if step == "cohort_csv" else cohort_dta() if step == "cohort_dta"
                  else import_file(args.file))
        print(json.dumps({**result, "load": round(os.getloadavg()[0], 1)}))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "cohort.csv")
        for step in args.steps:
            url = args.database_url
            if step == "import":
                if not Path(path).exists():
                    _child(root, url, "cohort_csv", path)
                url = _empty_database(url, root, args.database_url)
            print(json.dumps(_child(root, url, step, path)), flush=True)


if __name__ == "__main__":
    main()
