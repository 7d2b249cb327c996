"""The Django admin, for data managers only.

Access is by role, not by Django's model permissions: a user gets into the admin when they
are staff (is_staff) and hold the data-manager role at some clinic (or are a superuser).
Nurses, researchers and statisticians are not staff and are refused by the admin's login.
Clinical data (patients, withdrawals, administrations) is read-only here: changes go
through the entry pages, whose services validate, score, record the reason for a change
and request a refit. Clinics, memberships (roles) and users are managed here.
"""
from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from simple_history.admin import SimpleHistoryAdmin

from .models import Clinic, Membership, Role
from .selectors import user_roles


def is_data_manager(user) -> bool:
    """Staff with the data-manager role, or a superuser."""
    if not (user.is_active and user.is_staff):
        return False
    return user.is_superuser or Role.DATA_MANAGER in user_roles(user=user)


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


class MembershipInline(DataManagerOnly, admin.TabularInline):
    model = Membership
    extra = 0
    allow_delete = True
    autocomplete_fields = ["user"]


@admin.register(Clinic)
class ClinicAdmin(DataManagerOnly, SimpleHistoryAdmin):
    list_display = ["code", "name", "active"]
    list_filter = ["active"]
    search_fields = ["code", "name"]
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        # The code is part of every study ID already issued: fixed once the clinic exists.
        return ["code"] if obj is not None else []


@admin.register(Membership)
class MembershipAdmin(DataManagerOnly, SimpleHistoryAdmin):
    list_display = ["user", "clinic", "role"]
    list_filter = ["role", "clinic"]
    search_fields = ["user__username", "clinic__code"]
    autocomplete_fields = ["user", "clinic"]
    allow_delete = True


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class DataManagerUserAdmin(DataManagerOnly, UserAdmin):
    """Users and their roles. Only a superuser grants superuser rights or Django
    permissions, and only a superuser changes a superuser."""

    inlines = [MembershipInline]
    list_display = ["username", "first_name", "last_name", "is_active", "is_staff"]
    list_filter = ["is_active", "is_staff", "memberships__role"]

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return []
        return ["is_superuser", "groups", "user_permissions", "last_login", "date_joined"]

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)
