"""Benchmark: seed_demo at scale, export_cohort, and import_cohort of the export.

    .venv/bin/python bench/bench_seed.py [--patients 100000] [--clinics 30]

Uses two dedicated PostgreSQL databases, dropped and recreated on every run:
pc_bench_seed (seeded, then exported) and pc_bench_seed_import (empty apart from the
clinics, then the export is imported into it). Each step runs as its own manage.py
process; wall time comes from the clock, peak memory (max RSS) from os.wait4 on that
process. Results go to stdout; copy them into bench/README.md.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
SERVER = "postgres://postgres@127.0.0.1:5432"
BROKER = "redis://127.0.0.1:6379/5"


def recreate(name: str) -> str:
    connection = psycopg2.connect(f"{SERVER}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return f"{SERVER}/{name}"


def run(url: str, *args: str, broker: str = "") -> tuple[float, float, str]:
    """Run manage.py; return (seconds, the process's peak RSS in MB, its stdout).

    Without a broker the refit requested after an import runs in the same process (the
    embedded default); with one it is only queued, as in production."""
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.local",
           "DEBUG": "1", "CELERY_BROKER_URL": broker}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen([PYTHON, "manage.py", *args], cwd=ROOT, env=env,
                                   stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if status:
            sys.exit(f"manage.py {' '.join(args)} failed:\n{err.read()[-3000:]}")
        return seconds, usage.ru_maxrss / 1024, out.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--clinics", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2018)
    options = parser.parse_args()

    seeded = recreate("pc_bench_seed")
    run(seeded, "migrate", "--no-input", "-v0")
    seconds, peak, out = run(seeded, "seed_demo", f"--patients={options.patients}",
                             f"--clinics={options.clinics}", f"--seed={options.seed}",
                             "--force", "--no-refit")
    print(out.splitlines()[0])
    print(f"seed_demo --patients {options.patients} --clinics {options.clinics}: "
          f"{seconds:.1f} s, peak RSS {peak:.0f} MB")

    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "cohort.csv"
        seconds, peak, out = run(seeded, "export_cohort", str(export))
        rows = sum(1 for _ in export.open()) - 1
        print(f"export_cohort ({rows} rows, {export.stat().st_size / 1e6:.0f} MB): "
              f"{seconds:.1f} s, peak RSS {peak:.0f} MB")

        empty = recreate("pc_bench_seed_import")
        run(empty, "migrate", "--no-input", "-v0")
        run(empty, "shell", "-c",
            "from clinics.models import Clinic; from questionnaires.demo import clinic_codes; "
            f"Clinic.objects.bulk_create([Clinic(code=c, name='Clinic ' + c) "
            f"for c in clinic_codes({options.clinics})])")
        seconds, peak, out = run(empty, "import_cohort", str(export), "--dry-run")
        print(f"import_cohort --dry-run ({rows} rows): {seconds:.1f} s, peak RSS {peak:.0f} MB")
        # The refit is queued on a Redis database of this benchmark's own (no worker reads
        # it; flushed afterwards), so the time is the import's alone.
        seconds, peak, out = run(empty, "import_cohort", str(export), broker=BROKER)
        subprocess.run(["redis-cli", "-n", BROKER.rsplit("/", 1)[1], "flushdb"],
                       check=False, capture_output=True)
        print(out.strip())
        print(f"import_cohort ({rows} rows, empty database; refit queued): {seconds:.1f} s, "
              f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
