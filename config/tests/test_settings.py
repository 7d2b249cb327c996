"""Settings read the environment in one place and refuse unsafe production defaults."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def load_settings(module: str, **env: str) -> subprocess.CompletedProcess:
    """Import a settings module in a fresh interpreter with exactly these variables."""
    clean = {k: v for k, v in os.environ.items()
             if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "CELERY_BROKER_URL",
                          "DATA_ENCRYPTION_KEY"}}
    clean.update(env, DJANGO_SETTINGS_MODULE=module)
    code = ("import django; from django.conf import settings; django.setup(); "
            "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER, "
            "settings.DEBUG)")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=60)


def test_without_environment_runs_on_sqlite_with_tasks_in_process():
    result = load_settings("config.settings.local")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "True", "True"]


def test_with_database_and_broker_urls_runs_on_postgresql_and_redis():
    result = load_settings("config.settings.local",
                           DATABASE_URL="postgres://postgres@127.0.0.1:5432/x",
                           CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["django.db.backends.postgresql", "False"]


@pytest.mark.parametrize("env, message", [
    ({"DATABASE_URL": "postgres://p@h/x"}, "SECRET_KEY"),
    ({"SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://p@h/x", "DEBUG": "true"}, "DEBUG"),
    ({"SECRET_KEY": "x" * 50}, "DATABASE_URL"),
    ({"SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://p@h/x"}, "DATA_ENCRYPTION_KEY"),
])
def test_production_refuses_development_defaults(env, message):
    result = load_settings("config.settings.production", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_production_starts_with_its_settings_given():
    result = load_settings("config.settings.production", SECRET_KEY="s" * 50,
                           DATABASE_URL="postgres://p@127.0.0.1/x",
                           DATA_ENCRYPTION_KEY=Fernet.generate_key().decode())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[2] == "False"


def test_without_a_cache_server_the_processes_of_the_embedded_default_share_the_cache(tmp_path):
    """A change committed by `manage.py import_cohort` bumps the dashboard's count generation
    in its own process: the web server's process must see it."""
    def run(code: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k not in {"CACHE_URL", "DATABASE_URL"}}
        env.update(DJANGO_SETTINGS_MODULE="config.settings.local", CACHE_DIR=str(tmp_path))
        return subprocess.run(
            [sys.executable, "-c", "import django; django.setup(); "
             f"from django.core.cache import cache; {code}"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    written = run("cache.set('generation', 7, None)")
    assert written.returncode == 0, written.stderr
    read = run("print(cache.get('generation'))")
    assert read.stdout.strip() == "7", read.stderr
