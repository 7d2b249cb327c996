"""Admin mixins by role, for every app's ModelAdmins.

Access is by role, not by Django's model permissions: a user gets into the admin when they
are staff (is_staff) and may manage the study (core.permissions.CAN_MANAGE), or are a
superuser. Nurses, researchers and statisticians are not staff and are refused by the
admin's login.
"""
from __future__ import annotations

from .permissions import CAN_MANAGE, has_capability


def is_data_manager(user) -> bool:
    """Staff with the data-manager role, or a superuser."""
    if not (user.is_active and user.is_staff):
        return False
    return user.is_superuser or has_capability(user, CAN_MANAGE)


class DataManagerOnly:
    """ModelAdmin permissions by role: data managers may view, add and change."""

    allow_delete = False

    def has_module_permission(self, request) -> bool:
        return is_data_manager(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_data_manager(request.user)

    def has_add_permission(self, request, *args) -> bool:
        return is_data_manager(request.user)

    def has_change_permission(self, request, obj=None) -> bool:
        return is_data_manager(request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.allow_delete and is_data_manager(request.user)


class ReadOnly(DataManagerOnly):
    """Data managers may look, nobody may change anything here."""

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
