"""The client's address, for the sign-in lockout (django-axes) and its records.

Behind N trusted proxies that each append the address they saw to X-Forwarded-For (Caddy
in docker-compose, TRUSTED_PROXY_COUNT=1), the client is the N-th address from the right:
anything further left was written by the client and may be forged. Without a proxy the
header is ignored and the socket's address is used.
"""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip_address(request: HttpRequest) -> str | None:
    proxies = settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR")
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
                 if part.strip()]
    if len(forwarded) < proxies:
        # Fewer entries than proxies: the request did not come through them all.
        return remote
    return forwarded[-proxies]
