"""Production: refuses the development defaults instead of running with them.

Every value is read from the environment in base.py; this module only checks and tightens.
"""
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import (
    DATA_ENCRYPTION_KEY,
    DATABASE_URL,
    DEBUG,
    EMAIL_URL,
    INSECURE_SECRET_KEY,
    PASSWORD_RESET_OFFERED,
    PRODUCTION_CSRF_COOKIE_SECURE,
    PRODUCTION_HSTS_INCLUDE_SUBDOMAINS,
    PRODUCTION_HSTS_PRELOAD,
    PRODUCTION_HSTS_SECONDS,
    PRODUCTION_SECURE_SSL_REDIRECT,
    PRODUCTION_SESSION_COOKIE_SECURE,
    SECRET_KEY,
)

if SECRET_KEY == INSECURE_SECRET_KEY or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("Set SECRET_KEY (at least 32 characters) for production.")
if DEBUG:
    raise ImproperlyConfigured("DEBUG must not be on in production.")
if not DATABASE_URL:
    raise ImproperlyConfigured("Set DATABASE_URL (PostgreSQL) for production.")
if not DATA_ENCRYPTION_KEY:
    raise ImproperlyConfigured("Set DATA_ENCRYPTION_KEY (a Fernet key) for production: it "
                               "encrypts reminder email addresses at rest.")

SESSION_COOKIE_SECURE = PRODUCTION_SESSION_COOKIE_SECURE
CSRF_COOKIE_SECURE = PRODUCTION_CSRF_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Behind the TLS-terminating proxy (deploy/Caddyfile): plain HTTP is redirected to HTTPS,
# browsers are told to use HTTPS only, and the proxy's X-Forwarded-Proto says whether the
# client's request was HTTPS (the proxy overwrites any value the client sent).
SECURE_SSL_REDIRECT = PRODUCTION_SECURE_SSL_REDIRECT
# The container's health check asks over plain HTTP inside the compose network.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = PRODUCTION_HSTS_SECONDS
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION_HSTS_INCLUDE_SUBDOMAINS
SECURE_HSTS_PRELOAD = PRODUCTION_HSTS_PRELOAD
SECURE_REFERRER_POLICY = "same-origin"

# Password reset mails must reach the user: without a mail server it is not offered.
PASSWORD_RESET_OFFERED = PASSWORD_RESET_OFFERED and bool(EMAIL_URL)
