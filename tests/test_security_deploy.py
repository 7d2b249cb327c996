"""Deployment: `check --deploy` under production settings reports no issue; the embedded
SQLite default runs in WAL mode with immediate transactions and a busy timeout; the
production image gets the production pins only; compose puts TLS in front of gunicorn
and its health checks ask the database."""
from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
VARIABLES = {"SECRET_KEY", "DATA_ENCRYPTION_KEY", "DEBUG", "DATABASE_URL", "CELERY_BROKER_URL",
             "EMAIL_URL",
             "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "DJANGO_SETTINGS_MODULE",
             # set by the browser tests' conftest; the deploy check would report async.E001
             "DJANGO_ALLOW_ASYNC_UNSAFE"}


FERNET_KEY = Fernet.generate_key().decode()


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """A fresh interpreter with exactly these of the project's variables."""
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    clean.update(env)
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean, capture_output=True,
                          text=True, timeout=120)


def test_check_deploy_reports_no_issues_under_production_settings():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
                  DJANGO_SETTINGS_MODULE="config.settings.production",
                  SECRET_KEY=secrets.token_urlsafe(50), DATA_ENCRYPTION_KEY=FERNET_KEY,
                  DATABASE_URL="postgres://paincohort@127.0.0.1:5432/paincohort")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_would_report_a_missing_ssl_redirect():
    """The check above can fail: without the redirect it names W008."""
    result = _run(["manage.py", "check", "--deploy"],
                  DJANGO_SETTINGS_MODULE="config.settings.production",
                  SECRET_KEY=secrets.token_urlsafe(50), SECURE_SSL_REDIRECT="false",
                  DATA_ENCRYPTION_KEY=FERNET_KEY,
                  DATABASE_URL="postgres://paincohort@127.0.0.1:5432/paincohort")
    assert "security.W008" in result.stdout + result.stderr


SQLITE_PROBE = """
import django
from django.db import connection, transaction
django.setup()
with connection.cursor() as cursor:
    pragmas = [cursor.execute(f"PRAGMA {name}").fetchone()[0]
               for name in ("journal_mode", "synchronous", "busy_timeout")]
print(*pragmas, connection.transaction_mode)
with transaction.atomic():
    print(connection.in_atomic_block)
"""


def test_the_embedded_sqlite_runs_in_wal_mode_with_immediate_transactions(tmp_path):
    result = _run(["-c", SQLITE_PROBE], DJANGO_SETTINGS_MODULE="config.settings.local",
                  DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert result.returncode == 0, result.stderr
    # synchronous 1 is NORMAL; the busy timeout is in milliseconds.
    assert result.stdout.split() == ["wal", "1", "20000", "IMMEDIATE", "True"]


def _pins(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(re.split(r"[=<>~!\[ ]", line)[0].lower())
    return names


def test_production_pins_hold_no_test_tools():
    production = _pins(ROOT / "requirements.txt")
    tools = {"pytest", "pytest-django", "playwright", "axe-playwright-python", "ruff",
             "hypothesis"}
    assert production & tools == set()
    assert {"django", "django-axes", "argon2-cffi", "gunicorn"} <= production
    dev = ROOT / "requirements-dev.txt"
    assert "-r requirements.txt" in dev.read_text().splitlines()
    assert tools <= _pins(dev)


def test_the_image_installs_production_pins_and_make_installs_both():
    dockerfile = "\n".join(line for line in (ROOT / "Dockerfile").read_text().splitlines()
                           if not line.startswith("#"))
    assert "pip install --no-cache-dir -r requirements.txt" in dockerfile
    assert "requirements-dev" not in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^\$\(VENV\)/\.installed: requirements\.txt requirements-dev\.txt$",
                     makefile, re.MULTILINE)
    assert "pip install --quiet -r requirements-dev.txt" in makefile


def _service(compose: str, name: str) -> str:
    """The text of one top-level service of docker-compose.yml."""
    match = re.search(rf"^  {name}:\n(.*?)(?=^  \S|^\S|\Z)", compose, re.MULTILINE | re.DOTALL)
    assert match, name
    return match.group(1)


def test_compose_publishes_only_the_tls_proxy_and_checks_health_honestly():
    compose = (ROOT / "docker-compose.yml").read_text()
    proxy, web, worker = (_service(compose, name) for name in ("proxy", "web", "worker"))
    assert "image: caddy" in proxy and '"443:443"' in proxy
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile" in proxy
    assert "ports:" not in web and "deploy/web_healthcheck.py" in web
    assert "inspect ping" in worker and "manage.py healthcheck --broker" in worker
    assert "/health/" in (ROOT / "deploy" / "web_healthcheck.py").read_text()
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy web:8000" in caddyfile and "tls {$CADDY_TLS" in caddyfile
