"""What the site navigation offers the signed-in user, by capability."""
from __future__ import annotations

from django import template

from core.permissions import CAN_ANALYSE, CAN_ENTER_DATA, has_capability

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_links(context) -> dict[str, bool]:
    """Which navigation links the user may see (one membership query, cached per request)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"worklist": False, "analysis": False, "admin": False}
    return {
        "worklist": has_capability(user, CAN_ENTER_DATA),
        "analysis": has_capability(user, CAN_ANALYSE),
        "admin": user.is_staff,
    }
