"""Context every page template may use."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def password_reset_offered(request: HttpRequest) -> dict[str, bool]:
    """Whether the sign-in page links to password reset (see PASSWORD_RESET_OFFERED)."""
    return {"password_reset_offered": settings.PASSWORD_RESET_OFFERED}
