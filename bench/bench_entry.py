"""Benchmark nurse data entry on PostgreSQL with 10,000 patients.

Measures (1) server time to save a completed administration (POST of the entry page,
Django's test Client in-process), (2) server time to render the worklist of a clinic of
1,000 patients, (3) requests per second for entry saves from 8 concurrent clients against
gunicorn bound to 127.0.0.1. Loops are bounded in count and time.

    .venv/bin/python bench/bench_entry.py                    # database pc_h3_bench
    .venv/bin/python bench/bench_entry.py --saves 300 --concurrent-saves 50

The cohort is (re)seeded by a bulk insert at the start of every run, so runs compare.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from django.utils import timezone

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/pc_h3_bench"
PASSWORD = "bench-password-not-secret"
CLINICS = 10
PER_CLINIC = 1000


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    _create_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _create_database(url: str) -> None:
    import psycopg2

    parts = urllib.parse.urlparse(url)
    name = parts.path.lstrip("/")
    conn = psycopg2.connect(host=parts.hostname, port=parts.port or 5432,
                            user=parts.username or "postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def seed() -> dict:
    """10 clinics x 1,000 patients; two thirds with a completed baseline."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from clinics.models import Clinic, Membership, Role
    from patients.models import Patient
    from questionnaires.instruments import ITEM_CODES
    from questionnaires.models import Administration
    from questionnaires.services import apply_scores

    with connection.cursor() as cur:
        cur.execute("TRUNCATE questionnaires_administration,"
                    " questionnaires_historicaladministration,"
                    " patients_patientaccesslog, patients_withdrawal, patients_patient,"
                    " patients_historicalpatient, clinics_membership, clinics_clinic,"
                    " django_session CASCADE")
    clinics = Clinic.objects.bulk_create(
        [Clinic(code=f"K{i}", name=f"Bench clinic {i}") for i in range(CLINICS)])
    today = timezone.localdate()
    patients = Patient.objects.bulk_create([
        Patient(clinic=clinic, study_id=f"{clinic.code}-{n:04d}",
                consented_on=today - dt.timedelta(days=n % 150 + 1), consent_form_version="v1",
                consent_taken_by="Bench", age=20 + n % 60, gender="female", pain_years=n % 20,
                pain_sites=1 + n % 5)
        for clinic in clinics for n in range(1, PER_CLINIC + 1)], batch_size=2000)
    admins = []
    for i, patient in enumerate(patients):
        if i % 3 == 0:
            continue  # a third still need their baseline: the save benchmark enters those
        admin = Administration(patient=patient, timepoint="baseline", status="complete",
                               administered_on=patient.consented_on,
                               **{code: (i + k) % 5 + 1 for k, code in enumerate(ITEM_CODES)})
        apply_scores(admin)
        admins.append(admin)
    Administration.objects.bulk_create(admins, batch_size=2000)
    user_model = get_user_model()
    # kept between runs, not deleted: the audit trail's triggers refuse the history UPDATE
    # that deleting a user named in it would need
    nurse, _ = user_model.objects.get_or_create(username="bench_nurse")
    nurse.set_password(PASSWORD)
    nurse.save()
    Membership.objects.bulk_create(
        [Membership(user=nurse, clinic=clinic, role=Role.NURSE) for clinic in clinics],
        ignore_conflicts=True)
    todo = list(Patient.objects.filter(administrations__isnull=True)
                .order_by("study_id").values_list("study_id", "consented_on"))
    return {"nurse": nurse, "clinic": clinics[0].code, "todo": todo,
            "patients": Patient.objects.count(), "administrations": len(admins)}


def entry_post_data(consented_on: dt.date) -> dict:
    from questionnaires.instruments import ITEMS

    data = {item.code: str((item.minimum + item.maximum) // 2) for item in ITEMS}
    data.update(administered_on=consented_on.isoformat(), pih_form_version="current",
                action="complete", base_version="")
    return data


def summarise(name: str, seconds: list[float], cpu: list[float] | None = None) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[max(0, int(round(0.95 * len(ms))) - 1)]
    line = (f"{name}: n={len(ms)} median={statistics.median(ms):.1f} ms "
            f"p95={p95:.1f} ms max={ms[-1]:.1f} ms")
    if cpu:
        # CPU time of this process only (PostgreSQL's share not included): a figure that
        # a busy shared machine disturbs less than wall time.
        line += f" (python CPU median {statistics.median(cpu) * 1000:.1f} ms)"
    return line


def _timed(call) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def bench_in_process(ctx: dict, saves: int, renders: int) -> list[str]:
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(ctx["nurse"])
    save_times, save_cpu = [], []
    for study_id, consented_on in ctx["todo"][:saves]:
        url = reverse("questionnaires:entry", args=[study_id, "baseline"])
        data = entry_post_data(consented_on)
        response, wall, cpu = _timed(lambda url=url, data=data: client.post(url, data))
        save_times.append(wall)
        save_cpu.append(cpu)
        assert response.status_code == 302, (study_id, response.status_code)
    del ctx["todo"][:saves]
    url = reverse("clinics:worklist", args=[ctx["clinic"]])
    client.get(url)  # warm the template cache
    render_times, render_cpu = [], []
    for _ in range(renders):
        response, wall, cpu = _timed(lambda: client.get(url))
        render_times.append(wall)
        render_cpu.append(cpu)
        assert response.status_code == 200
    rows = response.content.decode().count("<tr>") - 1
    patients = re.search(r"\((\d+) in the clinic\)", response.content.decode()).group(1)
    return [summarise("save completed administration (test Client)", save_times, save_cpu),
            summarise(f"worklist, clinic of {patients} patients, first page of {rows} rows "
                      "(test Client)", render_times, render_cpu)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class EntryClient:
    """One nurse's browser: its own cookies, signs in, then saves questionnaires."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def _csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def request(self, path: str, data: dict | None = None) -> int:
        body = None
        if data is not None:
            body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": self._csrf()}).encode()
        try:
            with self.opener.open(self.base + path, body, timeout=30) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def sign_in(self) -> None:
        self.request("/accounts/login/")
        status = self.request("/accounts/login/", {"username": "bench_nurse",
                                                   "password": PASSWORD})
        assert status == 302, f"sign-in failed: {status}"


def bench_gunicorn(ctx: dict, clients: int, per_client: int, workers: int) -> list[str]:
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--log-level", "warning", "--timeout", "60"],
        cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base)
        todo = ctx["todo"][:clients * per_client]
        del ctx["todo"][:clients * per_client]
        latencies: list[float] = []
        failures: list[int] = []
        lock = threading.Lock()

        def run(share):
            client = EntryClient(base)
            client.sign_in()
            for study_id, consented_on in share:
                start = time.perf_counter()
                status = client.request(f"/questionnaires/{study_id}/baseline/",
                                        entry_post_data(consented_on))
                with lock:
                    latencies.append(time.perf_counter() - start)
                    if status != 302:
                        failures.append(status)

        threads = [threading.Thread(target=run, args=(todo[i::clients],))
                   for i in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        elapsed = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=30)
    return [f"gunicorn ({workers} sync workers), {clients} concurrent clients: "
            f"{len(latencies)} saves in {elapsed:.1f} s = {len(latencies) / elapsed:.1f} "
            f"saves/s, failures={len(failures)}",
            summarise("  latency per save under load", latencies)]


def _wait_for(base: str) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(base + "/accounts/login/", timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 DEFAULT_DB))
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--renders", type=int, default=50)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--concurrent-saves", type=int, default=50,
                        help="saves per concurrent client")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    setup_django(args.database_url)
    started = time.perf_counter()
    ctx = seed()
    print(f"seeded {ctx['patients']} patients, {ctx['administrations']} administrations "
          f"in {time.perf_counter() - started:.1f} s")
    for line in bench_in_process(ctx, args.saves, args.renders):
        print(line)
    for line in bench_gunicorn(ctx, args.clients, args.concurrent_saves, args.workers):
        print(line)


if __name__ == "__main__":
    main()
