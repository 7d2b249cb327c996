"""Benchmark: peak memory of an import dry run as the cohort file grows.

    .venv/bin/python bench/bench_import_memory.py [--rows 1000000] [--write]

Writes a cohort CSV of --rows rows (half as many patients, each with a baseline and a
follow-up, at clinic A) to a temporary file, recreates the PostgreSQL database
pc_bench_import_memory with clinic A only, and runs `manage.py import_cohort FILE
--dry-run` (with --write: then the real import) in a subprocess each; prints wall time and
peak RSS of each (os.wait4), and of a one-row dry run: the bare process, which the file
adds to. Copy the figures into bench/README.md.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "pc_bench_import_memory"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_seed import BROKER, recreate, run  # noqa: E402 (after the path it needs)


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


def manage(url: str, *args: str, broker: str = "") -> tuple[float, float]:
    """Run manage.py (bench_seed.run: wall time, peak RSS by os.wait4); print its output."""
    seconds, peak, out = run(url, *args, broker=broker)
    print(out.strip())
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--write", action="store_true",
                        help="also run the real import (after the dry run)")
    options = parser.parse_args()
    rows = options.rows
    url = recreate(DATABASE)
    manage(url, "migrate", "--verbosity", "0")
    manage(url, "shell", "-c", "from clinics.models import Clinic; "
                               "Clinic.objects.create(code='A', name='Clinic A')")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cohort.csv"
        write_file(path, rows)
        size = path.stat().st_size
        bare = _bare_process(url, path, Path(folder) / "one.csv")
        seconds, peak = manage(url, "import_cohort", str(path), "--dry-run")
        print(f"{rows:,} rows ({size / 1e6:.0f} MB): dry run {seconds:.1f} s, peak RSS "
              f"{peak:.0f} MB (a one-row dry run: {bare:.0f} MB)")
        if options.write:
            # The refit is only queued (Redis database 5, flushed after): its time and
            # memory are the analysis's, not the import's.
            seconds, peak = manage(url, "import_cohort", str(path), broker=BROKER)
            subprocess.run(["redis-cli", "-n", BROKER.rsplit("/", 1)[1], "flushdb"],
                           check=False, capture_output=True)
            print(f"{rows:,} rows: import {seconds:.1f} s, peak RSS {peak:.0f} MB")


def _bare_process(url: str, path: Path, one: Path) -> float:
    """Peak RSS of a dry run of the file's first row: what Django and the imports take."""
    with path.open() as source, one.open("w") as target:
        target.writelines([next(source), next(source)])
    return manage(url, "import_cohort", str(one), "--dry-run")[1]


if __name__ == "__main__":
    main()
