"""Settings for the test suite: same environment reading as base, fast password hashing."""
from .base import *  # noqa: F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files come from the finders in tests (no collectstatic), so WhiteNoise must not
# look for STATIC_ROOT at start-up.
WHITENOISE_AUTOREFRESH = True
# The second factor is off for the suite (tests sign in with client.force_login); the
# two-factor tests turn it on with the `settings` fixture.
TWO_FACTOR_REQUIRED = False
# One process, emptied before each test (conftest.py): no files to share.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
TWO_FACTOR_REQUIRED_FOR_NURSES = False
# One connection per request in the suite: a persistent connection held by a live-server
# thread outlives the test and makes the test database's teardown warn "being accessed by
# other users". The benchmarks, which run gunicorn on these settings, set
# DATABASE_CONN_MAX_AGE to keep production's persistent connections.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)  # noqa: F405
# Issue 19's slow parts of a model run (profile CIs, MI, tipping point) are off for the
# suite's many refits of small cohorts; their tests turn them on with `settings`.
ANALYSIS_SLOW_CHECKS = False
