"""Save questionnaires while a refit runs in another thread, on a SQLite file.

Run by test_runs.py in a process of its own: `python concurrent_entry.py DB_PATH`. Prints
one JSON line: saves attempted and saved, errors, saves made while the run was running,
and the run's final status.
"""
from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(db_path: str) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from analysis.models import ModelRun, RunStatus
    from analysis.runs import services
    from analysis.tests.factories import build_cohort
    from tests.factories import enrol_patient, make_user, save_administration

    call_command("migrate", verbosity=0)
    build_cohort(seed=9, sizes={"A": 120, "B": 120, "C": 80})
    from clinics.models import Clinic

    clinic = Clinic.objects.get(code="A")
    nurse = make_user("nurse", [clinic], "nurse")
    waiting = [enrol_patient(clinic=clinic, by=nurse) for _ in range(200)]
    run, _ = services.model_run_request(trigger="concurrency test", force=True)
    connection.close()

    def refit() -> None:
        try:
            services.refit_tick()
        finally:
            connection.close()

    worker = threading.Thread(target=refit)
    worker.start()
    while ModelRun.objects.get(pk=run.pk).status == RunStatus.QUEUED:
        pass  # the fit has claimed the run: saves from here on overlap it
    attempted, saved, during, errors = 0, 0, 0, []
    for patient in waiting:
        if attempted >= 20 and not worker.is_alive():
            break
        running = worker.is_alive()
        attempted += 1
        try:
            save_administration(patient, by=nurse)
        except Exception as exc:  # reported, not raised: the test counts them
            errors.append(f"{type(exc).__name__}: {exc}")
        else:
            saved += 1
            during += running
    worker.join()
    return {"attempted": attempted, "saved": saved, "saved_while_running": during,
            "errors": errors, "run_status": ModelRun.objects.get(pk=run.pk).status}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
