"""Patients, withdrawals and the access log in the admin: read-only for data managers.

Changes go through the application's pages (patients.services), which check the rules,
record the reason and request a refit; the admin shows the records and their history.
"""
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from core.admin import ReadOnly

from .models import Patient, PatientAccessLog, Withdrawal


@admin.register(Patient)
class PatientAdmin(ReadOnly, SimpleHistoryAdmin):
    list_display = ["study_id", "clinic", "consented_on", "followup_status", "lost_reason"]
    list_filter = ["clinic", "followup_status", "lost_reason"]
    search_fields = ["study_id"]
    list_select_related = ["clinic"]
    date_hierarchy = "consented_on"


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnly, SimpleHistoryAdmin):
    list_display = ["patient", "withdrawn_on", "keep_collected_data", "recorded_by"]
    list_filter = ["keep_collected_data"]
    search_fields = ["patient__study_id"]
    list_select_related = ["patient", "recorded_by"]


@admin.register(PatientAccessLog)
class PatientAccessLogAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["viewed_at", "user", "patient", "path"]
    list_filter = ["viewed_at"]
    search_fields = ["patient__study_id", "user__username"]
    list_select_related = ["user", "patient"]
    date_hierarchy = "viewed_at"
