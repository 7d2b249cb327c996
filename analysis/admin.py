"""Analysis records in the admin, for data managers.

The study target is edited here (one row, with history); interview contacts too. The
export log, model runs and dataset freezes are records of what happened: read-only.
"""
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from core.admin import DataManagerOnly, ReadOnly
from patients.admin import LogsPatientReads

from .models import DatasetFreeze, ExportLog, InterviewContact, ModelRun, StudyTarget


@admin.register(StudyTarget)
class StudyTargetAdmin(DataManagerOnly, SimpleHistoryAdmin):
    list_display = ["standardised_difference", "power", "alpha", "updated_at"]

    def has_add_permission(self, request, *args) -> bool:
        # A single row: the application reads the first one.
        return super().has_add_permission(request) and not StudyTarget.objects.exists()


@admin.register(InterviewContact)
class InterviewContactAdmin(LogsPatientReads, DataManagerOnly, SimpleHistoryAdmin):
    list_display = ["patient", "status", "invited_on", "interviewed_on", "duration_minutes"]
    list_filter = ["status"]
    search_fields = ["patient__study_id"]
    autocomplete_fields = ["patient"]
    readonly_fields = ["recorded_by"]

    def save_model(self, request, obj, form, change) -> None:
        obj.recorded_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ExportLog)
class ExportLogAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["created_at", "user", "file", "row_count"]
    list_filter = ["created_at"]
    search_fields = ["user__username", "file"]
    date_hierarchy = "created_at"


@admin.register(ModelRun)
class ModelRunAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["pk", "status", "trigger", "created_at", "finished_at"]
    list_filter = ["status"]
    exclude = ["results"]  # large JSON; the dashboard shows it


@admin.register(DatasetFreeze)
class DatasetFreezeAdmin(ReadOnly, admin.ModelAdmin):
    """Never changed or deleted (analysis/freezes); the files download from the export page."""

    list_display = ["pk", "label", "created_at", "sha256", "scoring_version"]
    exclude = ["results"]  # large JSON; the dashboard's ?freeze=ID shows it
