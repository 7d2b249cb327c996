"""Settings shared by every environment.

Every value that differs between machines is read from the environment here, in one place
(django-environ). The other settings modules only choose defaults or refuse unsafe ones.
"""
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Development defaults: production.py refuses to start with either of them.
INSECURE_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "core",
    "clinics",
    "patients",
    "questionnaires",
    "analysis",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.middleware.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# No DATABASE_URL: a SQLite file beside the project (the embedded default of `make run`).
DATABASE_URL = env.str("DATABASE_URL", default="")
DATABASES = {
    "default": env.db_url_config(DATABASE_URL or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("TEST", {})
if env.str("TEST_DATABASE_NAME", default=""):
    DATABASES["default"]["TEST"]["NAME"] = env.str("TEST_DATABASE_NAME")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions: an idle timeout (refreshed on every request) capped by an absolute lifetime.
SESSION_IDLE_TIMEOUT_SECONDS = env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=30 * 60)
SESSION_ABSOLUTE_LIFETIME_SECONDS = env.int("SESSION_ABSOLUTE_LIFETIME_SECONDS", default=10 * 3600)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT_SECONDS
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# HTTPS-only cookies. Read here with the rest; production.py applies them (on by default).
PRODUCTION_SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
PRODUCTION_CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Third-party front-end assets are installed from the npm registry by the setup step
# (package.json) and served from node_modules; nothing is loaded from a CDN.
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor", BASE_DIR / "node_modules")]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Content-Security-Policy (django-csp 4): only our own origin; the clinic network may be
# closed and third-party scripts are not allowed near clinical data.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Celery. No broker URL: tasks run in-process (the embedded default); with Redis they run
# on a worker. Results are stored in the database as model runs, not in a result backend.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=0.5)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 0, "socket_connect_timeout": 0.5}
# A sweep re-sends refits that a down broker or a dead worker left (analysis/services.py);
# it runs under `celery beat` (or a worker started with -B) and when a worker starts.
CELERY_BEAT_SCHEDULE = {
    "analysis-refit-sweep": {"task": "analysis.refit_sweep", "schedule": 60.0},
}

# Analysis refits. A burst of data changes within the coalescing window becomes one fit.
ANALYSIS_REFIT_COALESCE_SECONDS = env.float("ANALYSIS_REFIT_COALESCE_SECONDS", default=30)
ANALYSIS_REFIT_SOFT_TIME_LIMIT = env.int("ANALYSIS_REFIT_SOFT_TIME_LIMIT", default=240)
ANALYSIS_REFIT_TIME_LIMIT = env.int("ANALYSIS_REFIT_TIME_LIMIT", default=300)
# Without a broker: "thread" (fit in a background thread a few seconds after the last
# change, the embedded default), "inline" (right after the commit) or "off" (outbox only).
ANALYSIS_REFIT_IN_PROCESS = env.str("ANALYSIS_REFIT_IN_PROCESS", default="thread")
ANALYSIS_REFIT_THREAD_DELAY = env.float("ANALYSIS_REFIT_THREAD_DELAY", default=5)
# A broker that accepts connections but never answers would block a publish for ever.
ANALYSIS_REFIT_SEND_TIMEOUT = env.float("ANALYSIS_REFIT_SEND_TIMEOUT", default=0.5)

# Study parameters.
FOLLOWUP_WINDOW_START_DAYS = env.int("FOLLOWUP_WINDOW_START_DAYS", default=76)
FOLLOWUP_WINDOW_END_DAYS = env.int("FOLLOWUP_WINDOW_END_DAYS", default=120)
FOLLOWUP_DUE_DAYS = env.int("FOLLOWUP_DUE_DAYS", default=90)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
