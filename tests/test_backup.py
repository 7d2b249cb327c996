"""Backup and restore round trips through deploy/backup's scripts, as README documents them.

A study with a demo cohort, a patient enrolled, changed and withdrawn through the services
(history rows) and licensed item wording is backed up, restored into a fresh database, and
`manage.py db_fingerprint` must print the same row count and checksum for every table and
the same sequence values on both. PostgreSQL (pg_dump custom format, pg_restore) runs when
the suite's database is PostgreSQL (skipped otherwise, a failure under
PAINCOHORT_REQUIRE_SERVICES=1, as in CI); SQLite (the online backup API, with a writer
busy during the backup) runs everywhere, on files in tmp_path.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from core import backup as backup_module
from core.backup import connection_to_url
from questionnaires.instruments import BPI
from tests.services import skip_or_fail

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "deploy" / "backup"
WORDING = {code: f'Item {code}: "quoted", with a comma, 0–10 ✓' for code in BPI.item_codes[:3]}


def seed_study(wording_file: str) -> None:
    """The data every round trip carries: seed_demo's cohort (written with COPY on
    PostgreSQL), one patient enrolled, assessed, changed and withdrawn through the services
    (history rows of every kind), and item wording loaded by its command. Also run in a
    subprocess (manage.py shell) to fill the SQLite file."""
    from clinics.models import Clinic
    from patients.services import patient_update, patient_withdraw
    from tests.factories import enrol_patient, make_user, save_administration

    call_command("seed_demo", patients=12, clinics=2, force=True, no_refit=True,
                 stdout=StringIO())
    clinic = Clinic.objects.order_by("code").first()
    nurse = make_user("backup_nurse", [clinic], "nurse")
    patient = enrol_patient(clinic=clinic, by=nurse)
    save_administration(patient, by=nurse)
    patient_update(patient=patient, by=nurse, reason="age keyed wrongly", age=49)
    patient_withdraw(patient=patient, withdrawn_on=timezone.localdate(), reason="moved away",
                     keep_collected_data=True, by=nurse)
    call_command("load_item_wording", wording_file, source="test licence", stdout=StringIO())


def _write_wording(directory: Path) -> str:
    path = directory / "wording.csv"
    lines = ["code,wording"] + [f'{code},"{text.replace(chr(34), chr(34) * 2)}"'
                                for code, text in WORDING.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _script(name: str, *args: str, env: dict[str, str], check: bool = True):
    result = subprocess.run(["sh", str(SCRIPTS / name), *args], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _fingerprint(database_url: str = "") -> list[str]:
    out = StringIO()
    call_command("db_fingerprint", database_url=database_url, stdout=out)
    return out.getvalue().splitlines()


def _tables(fingerprint: list[str]) -> dict[str, tuple[int, str]]:
    return {name: (int(rows), digest) for kind, name, rows, digest in
            (line.split("\t") for line in fingerprint if line.startswith("table\t"))}


def _sequences(fingerprint: list[str]) -> dict[str, str]:
    return {name: value for kind, name, value in
            (line.split("\t") for line in fingerprint if line.startswith("sequence\t"))}


def _history_tables() -> set[str]:
    return {model._meta.db_table for model in apps.get_models()
            if model.__name__.startswith("Historical")}


def _assert_carries_the_study(fingerprint: list[str]) -> None:
    """Every model's table is in the fingerprint, with the rows the seed wrote."""
    tables = _tables(fingerprint)
    assert {model._meta.db_table for model in apps.get_models()} <= set(tables)
    assert tables["questionnaires_itemwording"][0] == len(WORDING)
    assert tables["patients_patient"][0] == 13
    for history in ("patients_historicalpatient", "patients_historicalwithdrawal",
                    "questionnaires_historicaladministration", "clinics_historicalclinic"):
        assert tables[history][0] > 0, history
    # The patient enrolled through the services: created, changed, lost (withdrawal).
    assert tables["patients_historicalpatient"][0] >= 13 + 2


def _assert_same_in_small_batches(monkeypatch, database_url: str, expected: list[str]):
    """Keyset batches neither skip nor repeat a row: 7 rows a batch (auth_permission
    alone takes about twenty) give the fingerprint of one batch per table."""
    monkeypatch.setattr(backup_module, "BATCH_ROWS", 7)
    assert _fingerprint(database_url) == expected
    monkeypatch.undo()


def _assert_fully_migrated(database_url: str) -> None:
    """What `manage.py migrate --check` asks: nothing left to apply."""
    with connection_to_url(database_url) as restored:
        executor = MigrationExecutor(restored)
        assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []


# PostgreSQL ---------------------------------------------------------------------------

@pytest.fixture
def postgres_only():
    missing = [tool for tool in ("pg_dump", "pg_restore", "psql") if not shutil.which(tool)]
    if connection.vendor != "postgresql" or missing:
        skip_or_fail(f"needs PostgreSQL and {', '.join(missing) or 'its client tools'}")


def _postgres_url(name: str) -> str:
    settings = connection.settings_dict
    user = quote(settings["USER"] or "", safe="")
    password = f":{quote(settings['PASSWORD'], safe='')}" if settings["PASSWORD"] else ""
    host = settings["HOST"] or "localhost"
    port = settings["PORT"] or 5432
    return f"postgresql://{user}{password}@{host}:{port}/{quote(name, safe='')}"


@pytest.fixture
def fresh_postgres_database():
    """An empty database beside the test database (from template0), dropped afterwards."""
    import psycopg2

    name = f"{connection.settings_dict['NAME']}_restore_{uuid.uuid4().hex[:8]}"
    server = psycopg2.connect(_postgres_url("postgres"))
    server.autocommit = True
    with server.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        yield _postgres_url(name)
    finally:
        with server.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.close()


def _row_counts_by_sql() -> dict[str, int]:
    """Every table's count(*), computed apart from the fingerprint."""
    counts = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


@pytest.mark.django_db(transaction=True)  # committed, so that pg_dump sees the rows
def test_postgresql_dump_restores_every_table_history_and_sequence(
        postgres_only, fresh_postgres_database, tmp_path, monkeypatch):
    seed_study(_write_wording(tmp_path))
    before = _fingerprint()
    _assert_carries_the_study(before)
    assert {name: rows for name, (rows, _) in _tables(before).items()} == _row_counts_by_sql()

    backup_dir = tmp_path / "backups"
    dump = Path(_script("backup.sh", env={"DATABASE_URL": _postgres_url(
        connection.settings_dict["NAME"]), "BACKUP_DIR": str(backup_dir)}).stdout.strip())
    assert dump.parent == backup_dir and dump.name.startswith("paincohort-")
    assert dump.suffix == ".dump" and dump.stat().st_mode & 0o777 == 0o600
    contents = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True,
                              text=True, check=True).stdout
    for table in _history_tables() | {"questionnaires_itemwording"}:
        assert f"TABLE DATA public {table} " in contents, table
    assert "SEQUENCE SET public patients_patient_id_seq" in contents

    target = {"DATABASE_URL": fresh_postgres_database}
    _script("restore.sh", str(dump), env=target)
    after = _fingerprint(fresh_postgres_database)
    assert after == before
    assert _sequences(after)["patients_patient_id_seq"] != "None"
    _assert_same_in_small_batches(monkeypatch, fresh_postgres_database, before)
    _assert_fully_migrated(fresh_postgres_database)

    # The checksum reads the rows' content: one changed wording changes that line only.
    with connection_to_url(fresh_postgres_database) as restored, restored.cursor() as cursor:
        cursor.execute("UPDATE questionnaires_itemwording SET wording = wording || '.' "
                       "WHERE code = %s", [next(iter(WORDING))])
    changed = _fingerprint(fresh_postgres_database)
    assert [line for line in changed if line not in before] == [
        line for line in changed if "\tquestionnaires_itemwording\t" in line]
    assert _tables(changed)["questionnaires_itemwording"][0] == len(WORDING)

    # A restore over a database in use is refused and changes nothing.
    refused = _script("restore.sh", str(dump), env=target, check=False)
    assert refused.returncode != 0 and "not empty" in refused.stderr
    assert _fingerprint(fresh_postgres_database) == changed


# SQLite -------------------------------------------------------------------------------

@pytest.fixture
def sqlite_study(tmp_path) -> Path:
    """A migrated and seeded SQLite file (the embedded default), in WAL mode as the site
    runs it, made by manage.py in a subprocess whatever the suite's database is."""
    path = tmp_path / "live.sqlite3"
    code = ("from tests.test_backup import seed_study; "
            f"from django.core.management import call_command; "
            f"call_command('migrate', verbosity=0); seed_study({_write_wording(tmp_path)!r})")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "CELERY_BROKER_URL": ""}
    result = subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
                            env=env, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return path


def test_sqlite_online_backup_restores_every_table_while_a_writer_is_busy(
        sqlite_study, tmp_path, django_db_blocker, monkeypatch):
    live_url = f"sqlite:///{sqlite_study}"
    code = next(iter(WORDING))
    writer = sqlite3.connect(sqlite_study, isolation_level=None)
    assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # Committed but only in the -wal file (no checkpoint): a copy of the main file alone
    # would miss it. Then a write transaction left open during the backup: not committed,
    # so not in the copy.
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("UPDATE questionnaires_itemwording SET source = 'in the WAL' "
                   "WHERE code = ?", [code])
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE questionnaires_itemwording SET source = 'uncommitted'")
    try:
        backup = Path(_script("backup.sh", env={"DATABASE_URL": live_url,
                                                "BACKUP_DIR": str(tmp_path / "backups")})
                      .stdout.strip())
    finally:
        writer.execute("ROLLBACK")
    assert (sqlite_study.parent / "live.sqlite3-wal").stat().st_size > 0
    writer.close()
    copy = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    assert dict(copy.execute("SELECT code, source FROM questionnaires_itemwording")) == {
        other: ("in the WAL" if other == code else "test licence") for other in WORDING}
    copy.close()
    assert backup.suffix == ".sqlite3" and backup.stat().st_mode & 0o777 == 0o600

    restored = tmp_path / "restored" / "db.sqlite3"
    restored.parent.mkdir()
    restored_url = f"sqlite:///{restored}"
    _script("restore.sh", str(backup), env={"DATABASE_URL": restored_url})
    with django_db_blocker.unblock():
        before, after = _fingerprint(live_url), _fingerprint(restored_url)
        _assert_fully_migrated(restored_url)
        _assert_same_in_small_batches(monkeypatch, restored_url, before)
    _assert_carries_the_study(before)
    assert _sequences(before)["patients_patient"] == "13"
    assert after == before

    # Never over an existing database: the site's file stays as it is.
    refused = _script("restore.sh", str(backup), env={"DATABASE_URL": restored_url},
                      check=False)
    assert refused.returncode != 0 and "exists" in refused.stderr
    with django_db_blocker.unblock():
        assert _fingerprint(restored_url) == before


def test_backup_keeps_the_last_days_and_only_its_own_files(tmp_path):
    database = tmp_path / "tiny.sqlite3"
    with sqlite3.connect(database) as tiny:
        tiny.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT)")
    backups = tmp_path / "backups"
    backups.mkdir()
    now = time.time()
    ages = {"paincohort-old.sqlite3": 15, "paincohort-recent.dump": 13,
            "paincohort-failed.sqlite3.partial": 20, "notes.txt": 30}
    for name, days in ages.items():
        (backups / name).write_text("x")
        os.utime(backups / name, (now - days * 86400, now - days * 86400))
    env = {"DATABASE_URL": f"sqlite:///{database}", "BACKUP_DIR": str(backups),
           "BACKUP_KEEP_DAYS": "14"}
    new = Path(_script("backup.sh", env=env).stdout.strip())
    assert sorted(path.name for path in backups.iterdir()) == sorted(
        [new.name, "paincohort-recent.dump", "notes.txt"])

    # 0 keeps everything; a value that is not a number of days is refused before any work.
    keep_all = tmp_path / "keep-all"
    keep_all.mkdir()
    (keep_all / "paincohort-old.sqlite3").write_text("x")
    os.utime(keep_all / "paincohort-old.sqlite3", (now - 400 * 86400,) * 2)
    env = {**env, "BACKUP_DIR": str(keep_all)}
    _script("backup.sh", env={**env, "BACKUP_KEEP_DAYS": "0"})
    assert len(list(keep_all.iterdir())) == 2
    refused = _script("backup.sh", env={**env, "BACKUP_KEEP_DAYS": "two weeks"}, check=False)
    assert refused.returncode != 0 and "BACKUP_KEEP_DAYS" in refused.stderr
    assert len(list(keep_all.iterdir())) == 2
