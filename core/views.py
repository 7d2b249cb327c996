"""Pages every app shares: the health check, and password reset only where it is offered."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from .health import check_cache, check_database


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """200 when the database answers, 503 otherwise: what the load balancer and compose's
    health check ask. A failing cache is "degraded" (200: data entry works without it, see
    core/cache_safety.py). No sign-in, and nothing about the data in the answer."""
    problem = check_database()
    if problem:
        return JsonResponse({"status": "unavailable", "problem": problem}, status=503)
    problem = check_cache()
    if problem:
        return JsonResponse({"status": "degraded", "problem": problem})
    return JsonResponse({"status": "ok"})


def when_password_reset_offered(view: Callable) -> Callable:
    """404 for the password-reset pages where no mail server would deliver the link."""
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not settings.PASSWORD_RESET_OFFERED:
            raise Http404("Password reset is not offered here.")
        return view(request, *args, **kwargs)
    return wrapped

