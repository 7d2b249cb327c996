"""Production: refuses the development defaults instead of running with them.

Every value is read from the environment in base.py; this module only checks and tightens.
"""
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import (
    DATABASE_URL,
    DEBUG,
    INSECURE_SECRET_KEY,
    PRODUCTION_CSRF_COOKIE_SECURE,
    PRODUCTION_SESSION_COOKIE_SECURE,
    SECRET_KEY,
)

if SECRET_KEY == INSECURE_SECRET_KEY or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("Set SECRET_KEY (at least 32 characters) for production.")
if DEBUG:
    raise ImproperlyConfigured("DEBUG must not be on in production.")
if not DATABASE_URL:
    raise ImproperlyConfigured("Set DATABASE_URL (PostgreSQL) for production.")

SESSION_COOKIE_SECURE = PRODUCTION_SESSION_COOKIE_SECURE
CSRF_COOKIE_SECURE = PRODUCTION_CSRF_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
