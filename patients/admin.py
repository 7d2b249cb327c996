"""Patients, withdrawals and the access log in the admin: read-only for data managers.

Changes go through the application's pages (patients.services), which check the rules,
record the reason and request a refit; the admin shows the records and their history.
Every admin read of a patient's record is in the access log, as the application's are.
"""
from django.contrib import admin
from django.contrib.admin.utils import unquote
from simple_history.admin import SimpleHistoryAdmin

from core.admin import ReadOnly
from core.audit import admin_list_read_record

from .models import Patient, PatientAccessLog, Withdrawal
from .services import patient_access_record


class LogsListReads:
    """A shown change-list page writes one row listing the study IDs on it
    (core.audit.admin_list_read_record); `patient_field` names each row's patient, "" when
    the row is the patient."""

    patient_field = "patient"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if request.method == "GET" and response.status_code == 200 and changelist:
            study_ids = [self._patient_of(row).study_id for row in changelist.result_list]
            if study_ids:
                admin_list_read_record(user=request.user, path=request.get_full_path(),
                                       study_ids=study_ids)
        return response

    def _patient_of(self, record):
        return getattr(record, self.patient_field) if self.patient_field else record


class LogsPatientReads(LogsListReads):
    """A shown change page, history list or past version of a patient's record goes into
    the patient's access log (patients.services.patient_access_record).

    `patient_field` names the record's patient; "" when the record is the patient.
    """

    patient_field = "patient"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        return self._logged(request, object_id, response)

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        return self._logged(request, object_id, response)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        response = super().history_form_view(request, object_id, version_id, extra_context)
        return self._logged(request, object_id, response)

    def _logged(self, request, object_id, response):
        # Only a page actually shown counts (not a refusal, a redirect or a missing record).
        if request.method == "GET" and response.status_code == 200:
            record = self.get_object(request, unquote(object_id))
            if record is not None:
                patient_access_record(patient=self._patient_of(record), user=request.user,
                                      path=request.get_full_path())
        return response


@admin.register(Patient)
class PatientAdmin(LogsPatientReads, ReadOnly, SimpleHistoryAdmin):
    patient_field = ""
    list_display = ["study_id", "clinic", "consented_on", "followup_status", "lost_reason"]
    list_filter = ["clinic", "followup_status", "lost_reason"]
    search_fields = ["study_id"]
    list_select_related = ["clinic"]
    date_hierarchy = "consented_on"


@admin.register(Withdrawal)
class WithdrawalAdmin(LogsPatientReads, ReadOnly, SimpleHistoryAdmin):
    list_display = ["patient", "withdrawn_on", "keep_collected_data", "recorded_by"]
    list_filter = ["keep_collected_data"]
    search_fields = ["patient__study_id"]
    list_select_related = ["patient", "recorded_by"]


@admin.register(PatientAccessLog)
class PatientAccessLogAdmin(LogsListReads, ReadOnly, admin.ModelAdmin):
    list_display = ["viewed_at", "user", "patient", "path"]
    list_filter = ["viewed_at"]
    search_fields = ["patient__study_id", "user__username"]
    list_select_related = ["user", "patient"]
    date_hierarchy = "viewed_at"
