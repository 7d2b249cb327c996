"""Queries in the admin: read-only for data managers, with their thread and history.

Queries are raised, answered and closed on the query pages (dataqueries.services), which
check the state machine and write the thread; the admin only shows them. A shown query is
a read of its patient's record (the access log), as on the application's pages.
"""
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from core.admin import ReadOnly, is_data_manager
from patients.admin import LogsPatientReads

from .models import Query, QueryMessage


class QueryMessageInline(admin.TabularInline):
    model = QueryMessage
    fields = ["at", "action", "by", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None) -> bool:
        return is_data_manager(request.user)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Query)
class QueryAdmin(LogsPatientReads, ReadOnly, SimpleHistoryAdmin):
    list_display = ["pk", "patient", "administration", "item", "status", "source",
                    "raised_at", "raised_by", "closed_at"]
    list_filter = ["status", "source", "patient__clinic"]
    search_fields = ["patient__study_id", "text"]
    list_select_related = ["patient", "administration__patient", "raised_by"]
    date_hierarchy = "raised_at"
    inlines = [QueryMessageInline]
