"""What the site navigation offers the signed-in user, by role."""
from __future__ import annotations

from django import template

from clinics.models import Role
from clinics.selectors import has_role

register = template.Library()

WORKLIST_ROLES = frozenset({Role.NURSE, Role.DATA_MANAGER})
ANALYSIS_ROLES = frozenset({Role.RESEARCHER, Role.STATISTICIAN, Role.DATA_MANAGER})


@register.simple_tag(takes_context=True)
def nav_links(context) -> dict[str, bool]:
    """Which navigation links the user may see (one membership query, cached per request)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"worklist": False, "analysis": False, "admin": False}
    return {
        "worklist": has_role(user=user, roles=WORKLIST_ROLES),
        "analysis": has_role(user=user, roles=ANALYSIS_ROLES),
        "admin": user.is_staff,
    }
