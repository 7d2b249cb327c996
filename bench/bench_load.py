"""Mixed load at national scale: nurses' worklists and real entry-form saves on gunicorn.

The cohort is bench_pages' (100,000 patients in 30 clinics, about 3,300 a clinic, made once
by `seed_demo`). Each run adds fresh patients without a questionnaire, so every save is a
first entry of a completed baseline through the real entry form (CSRF, session, the
service's transaction and row lock, scoring, audit history, the refit outbox). `--clients`
threads, each one nurse's browser signed in over HTTP, alternate a save and a worklist
request of a clinic for `--seconds`, while a refit runs in its own process (started again
when it ends). Printed per kind: operations, operations per second, p50 and p95 latency,
errors (any answer other than the save's redirect or the worklist's 200).

The ceiling: the same administration rows written by `--clients` threads with one
single-row INSERT and commit each (psycopg2, no Django), the database's own speed for
this write pattern on this machine.

    .venv/bin/python bench/bench_load.py                           # 8 clients, 60 s
    .venv/bin/python bench/bench_load.py --clients 32 --seconds 60
"""
from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_entry import EntryClient, _free_port, _wait_for, entry_post_data  # noqa: E402
from bench_pages import DEFAULT_DB, ensure_cohort, setup_django  # noqa: E402

PASSWORD = "bench-password-not-secret"
NURSE = "bench_nurse"


def add_todo_patients(per_clinic: int) -> list[tuple[str, str, object]]:
    """Fresh patients in every clinic, none with a questionnaire: (clinic, study_id, consent)."""
    from django.utils import timezone

    from clinics.models import Clinic
    from patients.models import Patient

    first = 500_000 + (int(time.time()) % 400) * 1000  # a new number range on every run
    today = timezone.localdate()
    made = []
    for clinic in Clinic.objects.order_by("code"):
        made += [Patient(clinic=clinic, study_id=f"{clinic.code}-{first + n}",
                         consented_on=today, consent_form_version="v1",
                         consent_taken_by="Bench", age=50, gender="female", pain_years=5,
                         pain_sites=2) for n in range(per_clinic)]
    Patient.objects.bulk_create(made, batch_size=2000)
    return [(p.clinic.code, p.study_id, p.consented_on) for p in made]


def ensure_nurse() -> None:
    from django.contrib.auth import get_user_model

    from clinics.models import Clinic, Membership, Role

    nurse, _ = get_user_model().objects.get_or_create(username=NURSE)
    nurse.set_password(PASSWORD)
    nurse.save()
    Membership.objects.bulk_create(
        [Membership(user=nurse, clinic=clinic, role=Role.NURSE)
         for clinic in Clinic.objects.all()], ignore_conflicts=True)


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {"save": [], "worklist": []}
        self.errors: dict[str, int] = {"save": 0, "worklist": 0}

    def record(self, kind: str, seconds: float, ok: bool) -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            self.errors[kind] += 0 if ok else 1

    def lines(self, elapsed: float) -> list[str]:
        out = []
        for kind, values in self.latency.items():
            ms = sorted(v * 1000 for v in values) or [float("nan")]
            p95 = ms[max(0, int(round(0.95 * len(ms))) - 1)]
            out.append(f"  {kind:8s}: {len(values):5d} in {elapsed:.0f} s = "
                       f"{len(values) / elapsed:6.1f}/s  p50 {statistics.median(ms):7.1f} ms  "
                       f"p95 {p95:7.1f} ms  errors {self.errors[kind]}")
        return out


def nurse_loop(base: str, todo, deadline: float, recorder: Recorder) -> None:
    client = EntryClient(base)
    client.request("/accounts/login/")
    assert client.request("/accounts/login/", {"username": NURSE, "password": PASSWORD}) == 302
    rng = random.Random(id(client))
    for code, study_id, consented_on in todo:
        if time.perf_counter() > deadline:
            return
        start = time.perf_counter()
        status = client.request(f"/questionnaires/{study_id}/baseline/",
                                entry_post_data(consented_on))
        recorder.record("save", time.perf_counter() - start, status == 302)
        page = rng.choice(["", "?page=2", "?status=due", "?status=overdue"])
        start = time.perf_counter()
        status = client.request(f"/clinics/{code}/worklist/{page}")
        recorder.record("worklist", time.perf_counter() - start, status == 200)


def refit_loop(url: str, stop: threading.Event) -> int:
    """Refits one after another in their own process while the load runs; returns how many."""
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "CELERY_BROKER_URL": ""}
    runs = 0
    while not stop.is_set():
        subprocess.run([sys.executable, "manage.py", "refit", "--sync", "--force"], cwd=ROOT,
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        runs += 1
    return runs


def run_load(url: str, clients: int, seconds: float, workers: int) -> list[str]:
    from clinics.models import Clinic

    # enough that no client runs out before the end, even at 100 saves per client-second
    per_clinic = clients * int(seconds) * 100 // Clinic.objects.count() + 1
    todo = add_todo_patients(per_clinic=per_clinic)
    random.Random(7).shuffle(todo)
    port = _free_port()
    # The test settings default to one connection per request; production keeps them 60 s.
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "CELERY_BROKER_URL": "", "DATABASE_CONN_MAX_AGE": "60"}
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--log-level", "warning", "--timeout", "120"],
        cwd=ROOT, env=env)
    base, recorder, stop = f"http://127.0.0.1:{port}", Recorder(), threading.Event()
    refits = []
    refitter = threading.Thread(target=lambda: refits.append(refit_loop(url, stop)))
    try:
        _wait_for(base)
        refitter.start()
        deadline = time.perf_counter() + seconds
        threads = [threading.Thread(target=nurse_loop,
                                    args=(base, todo[i::clients], deadline, recorder))
                   for i in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + 300)
        elapsed = time.perf_counter() - start
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=30)
        refitter.join(timeout=600)
    return [f"gunicorn {workers} workers, {clients} clients, a refit running "
            f"({refits[0] if refits else '?'} refits):", *recorder.lines(elapsed)]


def raw_insert_ceiling(url: str, clients: int, seconds: float) -> str:
    """The newest saved administration row, INSERTed again (single row + COMMIT) for fresh
    patients from `clients` threads: the same row as a save writes, without the application."""
    import psycopg2
    import psycopg2.extras
    from django.db import connection

    from clinics.models import Clinic

    todo = add_todo_patients(per_clinic=clients * int(seconds) * 300 // Clinic.objects.count() + 1)
    with connection.cursor() as cur:
        cur.execute("SELECT * FROM questionnaires_administration ORDER BY id DESC LIMIT 1")
        names = [column.name for column in cur.description]
        template = dict(zip(names, cur.fetchone(), strict=True))
        cur.execute("SELECT study_id, id FROM patients_patient WHERE study_id = ANY(%s)",
                    [[study_id for _code, study_id, _day in todo]])
        ids = dict(cur.fetchall())
    columns = [name for name in names if name != "id"]
    sql = (f"INSERT INTO questionnaires_administration ({', '.join(columns)}) "
           f"VALUES ({', '.join(['%s'] * len(columns))})")
    counter, lock = itertools.count(), threading.Lock()
    deadline = time.perf_counter() + seconds

    def insert(share):
        conn = psycopg2.connect(url)
        with conn.cursor() as cur:
            for _code, study_id, _day in share:
                if time.perf_counter() > deadline:
                    break
                row = {**template, "patient_id": ids[study_id]}
                cur.execute(sql, [psycopg2.extras.Json(row[c]) if isinstance(row[c], dict)
                                  else row[c] for c in columns])
                conn.commit()
                with lock:
                    next(counter)
        conn.close()

    threads = [threading.Thread(target=insert, args=(todo[i::clients],)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    rows = next(counter)
    return (f"raw INSERT ceiling, {clients} threads: {rows} rows in {elapsed:.1f} s = "
            f"{rows / elapsed:.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 DEFAULT_DB))
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--clinics", type=int, default=30)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--no-ceiling", action="store_true")
    args = parser.parse_args()
    ensure_cohort(args.database_url, args.patients, args.clinics)
    setup_django(args.database_url)
    ensure_nurse()
    for line in run_load(args.database_url, args.clients, args.seconds, args.workers):
        print(line, flush=True)
    if not args.no_ceiling:
        print(raw_insert_ceiling(args.database_url, args.clients, min(args.seconds, 20)))


if __name__ == "__main__":
    main()
