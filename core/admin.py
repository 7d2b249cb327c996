"""Admin mixins by role, for every app's ModelAdmins, and the sign-in lockout records.

Access is by role, not by Django's model permissions: a user gets into the admin when they
are staff (is_staff) and may manage the study (core.permissions.CAN_MANAGE), or are a
superuser. Nurses, researchers and statisticians are not staff and are refused by the
admin's login.

A page that only shows ("View") never writes: every POST to it is refused with 403. The
history pages of django-simple-history are read-only for everyone (its "revert" saves any
POST from a user who may view, whatever SIMPLE_HISTORY_REVERT_DISABLED says).
"""
from __future__ import annotations

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied

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

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and object_id is not None:
            obj = self.get_object(request, unquote(object_id))
            if not self.has_change_permission(request, obj):
                raise PermissionDenied
        return super().changeform_view(request, object_id, form_url, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # A past version is shown, never saved back: changes go through the change form
        # (or, for clinical data, the services behind the entry pages).
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class ReadOnly(DataManagerOnly):
    """Data managers may look, nobody may change anything here."""

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class FailedSignInsAdmin(DataManagerOnly, AccessAttemptAdmin):
    """Locked and failing sign-ins (django-axes). Unlocking is deleting the record."""

    allow_delete = True
    actions = ["unlock"]

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Unlock (forget these failed sign-ins)")
    def unlock(self, request, queryset) -> None:
        count, _ = queryset.delete()
        self.message_user(request, f"Unlocked: {count} record(s) of failed sign-ins removed.")


class SignInLogAdmin(ReadOnly, AccessLogAdmin):
    """Successful sign-ins and sign-outs (django-axes)."""


class FailedSignInLogAdmin(ReadOnly, AccessFailureLogAdmin):
    """Every failed sign-in, one row each (django-axes)."""


admin.site.register(AccessAttempt, FailedSignInsAdmin)
admin.site.register(AccessLog, SignInLogAdmin)
admin.site.register(AccessFailureLog, FailedSignInLogAdmin)
