"""Benchmark the refit path: data entry whatever the broker, and a full model run.

(1) Wall time of a completed administration save through the service (the transaction
    and the outbox mark: one INSERT), with the Celery broker at a closed port, at a
    loopback socket that accepts but never answers, and at a live Redis. Data entry no
    longer talks to the broker, so the three should not differ.
(2) Wall time of a whole model run (load, Table 1, 15 Table 2 models, change,
    attrition) on the seed_demo cohort at several sizes.

    .venv/bin/python bench/bench_refit.py                 # scratch SQLite in /tmp
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pc_h4_bench .venv/bin/python \
        bench/bench_refit.py

Each scenario runs in its own subprocess (the broker URL is read at start-up).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from django.utils import timezone

ROOT = Path(__file__).resolve().parents[1]
BROKERS = {
    "closed port": "redis://127.0.0.1:1/0",
    "live Redis": "redis://127.0.0.1:6379/15",
}


def _setup(broker: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DATABASE_URL", "sqlite:////tmp/pc_h4_bench.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["CELERY_BROKER_URL"] = broker
    import django

    django.setup()


def _seed(patients: int) -> None:
    from django.core.management import call_command

    call_command("flush", "--no-input", verbosity=0)
    call_command("seed_demo", "--force", "--no-refit", "--patients", str(patients),
                 "--seed", "2018", "--end-date", "2026-06-30", verbosity=0)


def entry(broker: str, saves: int) -> dict:
    """Save `saves` follow-ups through the service; each marks the refit outbox."""
    _setup(broker)
    from django.core.management import call_command

    from patients.models import Patient
    from questionnaires.instruments import ITEM_CODES
    from questionnaires.services import administration_save

    call_command("migrate", verbosity=0)
    _seed(300)
    todo = list(Patient.objects.exclude(administrations__timepoint="followup")
                .filter(administrations__timepoint="baseline")[:saves])
    answers = dict.fromkeys(ITEM_CODES, 1)
    times = []
    for patient in todo:
        baseline = patient.administrations.get(timepoint="baseline").administered_on
        day = min(baseline + dt.timedelta(days=90), timezone.localdate())
        started = time.perf_counter()
        administration_save(patient=patient, timepoint="followup", administered_on=day,
                            answers=answers, by=None, complete=True)
        times.append(time.perf_counter() - started)
    if broker.endswith("/15"):
        import redis

        redis.Redis.from_url(broker).flushdb()
    return {"n": len(times), "first": times[0], "median": statistics.median(times[1:]),
            "max after first": max(times[1:])}


def run(patients: int) -> dict:
    _setup("")
    from django.core.management import call_command

    from analysis.runs.compute import compute_results

    call_command("migrate", verbosity=0)
    _seed(patients)
    started = time.perf_counter()
    results, timings = compute_results(options={})
    return {"wall": time.perf_counter() - started, **timings,
            "completers": results["counts"]["completers"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=40)
    parser.add_argument("--sizes", default="147,1000,10000")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, value = args.child.split("=", 1)
        result = entry(value, args.saves) if kind == "entry" else run(int(value))
        print(json.dumps(result))
        return
    print("Data entry (administration_save + outbox mark), seconds:")
    # A listening socket nobody accepts from: connections open, nothing ever answers.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        brokers = {**BROKERS,
                   "silent broker": f"redis://127.0.0.1:{silent.getsockname()[1]}/0"}
        for label, url in brokers.items():
            print(f"  {label:<16} {_child(f'entry={url}', args.saves)}")
    print("Whole model run, seconds:")
    for size in args.sizes.split(","):
        print(f"  {size:>6} patients {_child(f'run={size}', args.saves)}")


def _child(spec: str, saves: int) -> str:
    out = subprocess.run([sys.executable, __file__, "--child", spec, "--saves", str(saves)],
                         capture_output=True, text=True, timeout=1800, cwd=ROOT)
    if out.returncode:
        return f"failed: {out.stderr[-500:]}"
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                     for k, v in data.items())


if __name__ == "__main__":
    main()
