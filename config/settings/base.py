"""Settings shared by every environment.

Every value that differs between machines is read from the environment here, in one place
(django-environ). The other settings modules only choose defaults or refuse unsafe ones.
"""
from datetime import timedelta
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
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "core",
    "core.otp",  # after django-otp's plugins: its admin module replaces theirs
    "clinics",
    "patients",
    "questionnaires",
    "selfcompletion",
    "reminders",
    "dataqueries",
    "analysis",
    "front",  # the pages composing several apps, above them all
]

MIDDLEWARE = [
    # First: an error page says whether this request's writes were committed.
    "core.middleware.HonestErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "core.middleware.NoStoreForSignedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.middleware.SessionTimeoutMiddleware",
    # After OTPMiddleware and the session limits: no page before the second factor.
    "core.middleware.TwoFactorMiddleware",
    # After the sign-in, session-limit and two-factor checks: a tablet handed to a patient
    # shows only that patient's questionnaire (selfcompletion/patient_mode.py).
    "selfcompletion.patient_mode.PatientModeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Another clinic's patient shows the product's 404 under `make run` (DEBUG) too.
    "core.errors.ProductNotFoundMiddleware",
    # Last, as django-axes requires: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
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
                "core.context_processors.password_reset_offered",
            ],
        },
    },
]

# No DATABASE_URL: a SQLite file beside the project (the embedded default of `make run`).
# DATABASE_URL is the role this process connects as: on PostgreSQL in production the
# runtime role that owns nothing (web, worker); `migrate` and `grant_runtime_role` run with
# the owner role's URL instead (compose's one-off `migrate` step; README, "Database roles").
DATABASE_URL = env.str("DATABASE_URL", default="")
DATABASES = {
    "default": env.db_url_config(DATABASE_URL or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Persistent connections: a new PostgreSQL backend per request costs a fork and the auth
# handshake; the health check drops a connection the server closed before it is reused.
# SQLite opens a file (cheap), so it keeps Django's default of one connection per request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int(
    "DATABASE_CONN_MAX_AGE",
    default=0 if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default has a web server and an in-process refit writing one file: WAL
    # lets readers run beside a writer, IMMEDIATE takes the write lock when a transaction
    # starts (no deadlock between two readers that both want to write), and the timeout
    # waits for the lock instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": env.int("SQLITE_TIMEOUT_SECONDS", default=20),
    })
DATABASES["default"].setdefault("TEST", {})
if env.str("TEST_DATABASE_NAME", default=""):
    DATABASES["default"]["TEST"]["NAME"] = env.str("TEST_DATABASE_NAME")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2 first: new and changed passwords are hashed with it; older PBKDF2 hashes still
# verify and are rehashed with Argon2 at the next sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# django-axes checks every sign-in (the site's and the admin's) before the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Sign-in lockout (django-axes, core/otp/lockout.py): a clinic sits behind one address, so
# the USER NAME is locked after AXES_FAILURE_LIMIT failures (from any address) and the
# ADDRESS only after AXES_ADDRESS_FAILURE_LIMIT failures of any names (a guesser): one
# nurse's mistakes never lock her colleagues out. Further sign-ins are refused (HTTP 429)
# until the cool-off has passed since the last failure or a data manager clears the lock
# (People page, admin "Failed sign-ins", or `manage.py axes_reset_username NAME` /
# `axes_reset_ip ADDRESS`); a refused sign-in does not count again. The sign-in error says
# how many tries are left. Each failure is logged (AccessFailureLog, and the "axes"
# logger); successes are kept in AccessLog.
AXES_HANDLER = "core.otp.lockout.ClinicLockoutHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_ADDRESS_FAILURE_LIMIT = env.int("AXES_ADDRESS_FAILURE_LIMIT", default=100)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Not reset by a success: one known password must not clear an address's failures.
AXES_RESET_ON_SUCCESS = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLE_ADMIN = False  # core/admin.py registers the records for data managers
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip_address"
# Proxies in front of the application that append the client address to X-Forwarded-For
# (1 behind docker-compose's Caddy). 0: the address is the socket's (REMOTE_ADDR), and a
# client's own X-Forwarded-For is ignored.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Two-factor sign-in (django-otp, core/otp/): after the password, a code from an
# authenticator app (TOTP) or one of TWO_FACTOR_RECOVERY_CODES recovery codes (each used
# once). Required for researchers, statisticians, data managers and staff, and for nurses
# unless TWO_FACTOR_REQUIRED_FOR_NURSES is off; a user who has an authenticator is always
# asked. TWO_FACTOR_REQUIRED=False turns the second factor off for everyone (the test
# suite; never a real study). TWO_FACTOR_MAX_FAILURES wrong codes sign the session out;
# every wrong code also counts as a failed sign-in towards AXES_FAILURE_LIMIT.
TWO_FACTOR_REQUIRED = env.bool("TWO_FACTOR_REQUIRED", default=True)
TWO_FACTOR_REQUIRED_FOR_NURSES = env.bool("TWO_FACTOR_REQUIRED_FOR_NURSES", default=True)
TWO_FACTOR_MAX_FAILURES = env.int("TWO_FACTOR_MAX_FAILURES", default=5)
TWO_FACTOR_RECOVERY_CODES = 10
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="PainCohort")
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Encryption at rest for contact details held apart from the research data (reminder
# email addresses, resendable invitation links): a Fernet key, e.g. from
# `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.
# Development derives one from the development SECRET_KEY; production refuses to start without.
DATA_ENCRYPTION_KEY = env.str("DATA_ENCRYPTION_KEY", default="")

# Mail (password reset). EMAIL_URL, e.g. smtp+tls://user:password@mail.example.org:587,
# from the environment; without it mails are printed on the console (`make run`).
EMAIL_URL = env.str("EMAIL_URL", default="")
_EMAIL = env.email_url_config(EMAIL_URL or "consolemail://")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default=_EMAIL["EMAIL_BACKEND"])
EMAIL_HOST = _EMAIL["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _EMAIL["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _EMAIL["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _EMAIL["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = _EMAIL.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _EMAIL.get("EMAIL_USE_SSL", False)
# A mail server that accepts the connection and never answers must not hold a web worker
# (password reset) or a reminder send (which holds its row lock) for ever: Django's
# default is no timeout.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="paincohort@localhost")
# The site's address as patients reach it: reminder emails carry absolute links.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# Offered on the sign-in page and served at /accounts/password_reset/ only when mail goes
# somewhere a user can read it; production.py turns it off without EMAIL_URL.
PASSWORD_RESET_OFFERED = env.bool("PASSWORD_RESET_OFFERED", default=True)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=2 * 3600)

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
# HTTPS behind the proxy, read here too and applied by production.py: redirect plain HTTP,
# and HSTS for a year with subdomains and consent to preloading.
PRODUCTION_SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
PRODUCTION_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
PRODUCTION_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
PRODUCTION_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

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
# Analysis refits (analysis/runs/services.py). Data changes only mark the outbox; beat
# sends the refit tick every interval, which fits the pending changes (a burst between two
# ticks becomes one run) and takes over a run whose heartbeat is older than the stale
# threshold (its worker died): a killed worker's run is retried within interval + stale.
# Each tick expires after one interval, so a busy worker does not pile them up.
ANALYSIS_REFIT_INTERVAL_SECONDS = env.float("ANALYSIS_REFIT_INTERVAL_SECONDS", default=15)
ANALYSIS_REFIT_STALE_SECONDS = env.int("ANALYSIS_REFIT_STALE_SECONDS", default=60)
ANALYSIS_REFIT_SOFT_TIME_LIMIT = env.int("ANALYSIS_REFIT_SOFT_TIME_LIMIT", default=240)
ANALYSIS_REFIT_TIME_LIMIT = env.int("ANALYSIS_REFIT_TIME_LIMIT", default=300)
# Issue 19's slow parts of a model run (profile-likelihood CIs, multiple imputation and the
# tipping point: seconds to a minute on the demo cohort). Off in the test settings, where a
# hundred tests refit small cohorts; the tests of those parts switch it on.
ANALYSIS_SLOW_CHECKS = env.bool("ANALYSIS_SLOW_CHECKS", default=True)
CELERY_BEAT_SCHEDULE = {
    "analysis-refit-tick": {"task": "analysis.refit_tick",
                            "schedule": ANALYSIS_REFIT_INTERVAL_SECONDS,
                            "options": {"expires": ANALYSIS_REFIT_INTERVAL_SECONDS}},
    # Follow-up reminders (reminders/services.py): hourly, so a failed send is retried
    # within the hour and a reminder goes out on its day whenever the task runs.
    "reminders-send-due": {"task": "reminders.send_due", "schedule": 3600,
                           "options": {"expires": 3600}},
}

# Study parameters.
# Patient self-completion: a tablet left in patient mode ends after this idle time; the
# one-time link's short-code lookup refuses an address after this many misses in 10 min.
SELFCOMPLETION_IDLE_SECONDS = env.int("SELFCOMPLETION_IDLE_SECONDS", default=15 * 60)
SELFCOMPLETION_LOOKUP_FAILURE_LIMIT = env.int("SELFCOMPLETION_LOOKUP_FAILURE_LIMIT",
                                              default=10)
# Verified keying of paper forms (questionnaires/verification*.py): the default until a
# data manager saves the study's own setting: "off", "fraction" (that fraction of the
# nurse-keyed forms, chosen from a hash of the form's id and the seed) or "all".
VERIFIED_KEYING_MODE = env.str("VERIFIED_KEYING_MODE", default="off")
VERIFIED_KEYING_FRACTION = env.float("VERIFIED_KEYING_FRACTION", default=0.1)
VERIFIED_KEYING_SEED = env.str("VERIFIED_KEYING_SEED", default="paincohort")

# The cache counts guesses at one-time links and keeps the dashboard's live counts until a
# data change. Every process must share it: the web workers, and a command such as
# import_cohort whose change must reach the pages. CACHE_URL (e.g. redis://redis:6379/1)
# names a cache server; without it, files under CACHE_DIR, shared by the processes of
# one machine (the embedded default).
CACHE_URL = env.str("CACHE_URL", default="")
CACHE_DIR = env.path("CACHE_DIR", default=BASE_DIR / "var" / "cache")
CACHES = {"default": env.cache_url_config(CACHE_URL) if CACHE_URL
          else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(CACHE_DIR)}}
# Nothing waits long on the cache: a cache server that does not answer within
# CACHE_SOCKET_TIMEOUT seconds counts as down (core/cache_safety.py carries on without it).
CACHE_SOCKET_TIMEOUT = env.float("CACHE_SOCKET_TIMEOUT", default=0.5)
if "redis" in CACHES["default"]["BACKEND"].lower():
    CACHES["default"].setdefault("OPTIONS", {}).update({
        "socket_timeout": CACHE_SOCKET_TIMEOUT, "socket_connect_timeout": CACHE_SOCKET_TIMEOUT})

FOLLOWUP_WINDOW_START_DAYS = env.int("FOLLOWUP_WINDOW_START_DAYS", default=76)
FOLLOWUP_WINDOW_END_DAYS = env.int("FOLLOWUP_WINDOW_END_DAYS", default=120)
FOLLOWUP_DUE_DAYS = env.int("FOLLOWUP_DUE_DAYS", default=90)

# Past versions are shown in the admin, never restored from there (core/admin.py refuses
# the history pages' POSTs as well).
SIMPLE_HISTORY_REVERT_DISABLED = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
