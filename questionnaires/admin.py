"""Administrations in the admin: read-only.

Answers are changed on the entry pages only (questionnaires.services.administration_save),
which validate them, compute the scores, require a reason for a change to a completed
administration and request a refit. So no score (nor any answer) can be typed in here; the
history view shows every version with its author and reason. Reads are in the patient's
access log.
"""
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from core.admin import ReadOnly
from patients.admin import LogsPatientReads

from .instruments import SCORE_CODES
from .models import Administration, ItemWording


@admin.register(Administration)
class AdministrationAdmin(LogsPatientReads, ReadOnly, SimpleHistoryAdmin):
    list_display = ["patient", "timepoint", "administered_on", "status", *SCORE_CODES]
    list_filter = ["timepoint", "status", "patient__clinic"]
    search_fields = ["patient__study_id"]
    list_select_related = ["patient"]
    date_hierarchy = "administered_on"
    # Computed fields are not form fields (editable=False); show them, never as inputs.
    readonly_fields = [*SCORE_CODES, *(f"{code}_n" for code in SCORE_CODES),
                       "scoring_version", "version", "created_at", "updated_at"]


@admin.register(ItemWording)
class ItemWordingAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["code", "source", "loaded_at"]
    search_fields = ["code"]
