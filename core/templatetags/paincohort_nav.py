"""What the site navigation offers the signed-in user, by capability."""
from __future__ import annotations

from django import template

from core.otp.policy import step_owed
from core.permissions import (
    CAN_ANALYSE,
    CAN_ENTER_DATA,
    CAN_MANAGE,
    CAN_VIEW_QUERIES,
    has_capability,
)

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_links(context) -> dict[str, bool]:
    """Which navigation links the user may see (one membership query, cached per request)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"shown": False}
    if step_owed(user):
        # Before the second factor: nothing of the account (no links, no name), sign-out only.
        return {"shown": False, "sign_out": True}
    return {
        "shown": True,
        "people": has_capability(user, CAN_MANAGE),
        "worklist": has_capability(user, CAN_ENTER_DATA),
        # a nurse's own clinics' queries, a data manager's every clinic's
        "queries": has_capability(user, CAN_VIEW_QUERIES),
        # the keying discrepancy rates and the verified-keying setting
        "keying": has_capability(user, CAN_MANAGE),
        "analysis": has_capability(user, CAN_ANALYSE),
        "admin": user.is_staff,
    }
