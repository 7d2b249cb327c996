"""The Django admin, for data managers only.

Access is by role (core.admin: staff data managers and superusers only), not by Django's
model permissions.
Clinical data (patients, withdrawals, administrations) is read-only here: changes go
through the entry pages, whose services validate, score, record the reason for a change
and request a refit. Clinics, memberships (roles) and users are managed here.
"""
from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.forms.models import BaseInlineFormSet
from simple_history.admin import SimpleHistoryAdmin

from core.admin import DataManagerOnly

from .models import Clinic, Membership


class LabelledInlineFormSet(BaseInlineFormSet):
    """A tabular inline shows its labels only as column headers, which a screen reader
    does not tie to the fields (axe: unlabelled selects and checkboxes): every field of
    every row, the "add another" template row included, gets its label as its name."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        row = "new role" if index is None or index >= self.initial_form_count() \
            else f"role {index + 1}"
        for name, field in form.fields.items():
            label = "Delete" if name == "DELETE" else str(field.label or name)
            # The admin wraps a foreign key's select (the "+" and pencil links): name the
            # select itself, not the wrapper.
            widget = getattr(field.widget, "widget", field.widget)
            widget.attrs.setdefault("aria-label", f"{label} ({row})")


class MembershipInline(DataManagerOnly, admin.TabularInline):
    model = Membership
    formset = LabelledInlineFormSet
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
# Roles are memberships (clinics.Membership), not groups: Django's groups are not used, and
# their admin (by Django permissions, not by role) would be the one page outside the policy.
admin.site.unregister(Group)


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
