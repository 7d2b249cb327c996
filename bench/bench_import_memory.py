"""Benchmark: peak memory of an import dry run as the cohort file grows.

    .venv/bin/python bench/bench_import_memory.py [--rows 1000000]

Writes a cohort CSV of --rows rows (half as many patients, each with a baseline and a
follow-up, at clinic A) to a temporary file, recreates the PostgreSQL database
pc_bench_import_memory with clinic A only, and runs `manage.py import_cohort FILE
--dry-run` in a subprocess; prints its wall time and peak RSS (resource.getrusage of the
children). Copy the figures into bench/README.md.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
SERVER = "postgres://postgres@127.0.0.1:5432"
DATABASE = "pc_bench_import_memory"
sys.path.insert(0, str(ROOT))


def write_file(path: Path, rows: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django
    django.setup()
    from questionnaires.tests.cohort_files import cohort_row, write_cohort

    def all_rows():
        for number in range(1, rows // 2 + 1):
            study_id = f"A-{number:06d}"
            yield cohort_row(study_id, "baseline", "2025-01-10", age=str(18 + number % 80))
            yield cohort_row(study_id, "followup", "2025-04-10", age=str(18 + number % 80),
                             bpi=number % 11)

    write_cohort(path, all_rows())


def manage(url: str, *args: str) -> float:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.local",
           "DEBUG": "1", "CELERY_BROKER_URL": ""}
    started = time.perf_counter()
    completed = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env,
                               capture_output=True, text=True)
    if completed.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{completed.stderr[-3000:]}")
    print(completed.stdout.strip())
    return time.perf_counter() - started


def recreate() -> str:
    connection = psycopg2.connect(f"{SERVER}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
        cursor.execute(f'CREATE DATABASE "{DATABASE}"')
    connection.close()
    return f"{SERVER}/{DATABASE}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    url = recreate()
    manage(url, "migrate", "--verbosity", "0")
    manage(url, "shell", "-c", "from clinics.models import Clinic; "
                               "Clinic.objects.create(code='A', name='Clinic A')")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cohort.csv"
        write_file(path, rows)
        size = path.stat().st_size
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        seconds = manage(url, "import_cohort", str(path), "--dry-run")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # RUSAGE_CHILDREN is the largest child so far: the dry run is the largest by far.
    print(f"{rows:,} rows ({size / 1e6:.0f} MB): dry run {seconds:.1f} s, peak RSS "
          f"{peak / 1024:.0f} MB (largest earlier child {before / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
