"""The one audit table below every app: exports written by management commands.

The web downloads are logged by the analysis (analysis.models.ExportLog, with the signed-in
user); a command has no signed-in user and its app may not import the analysis, so its
export is recorded here with the operating-system user who ran it (core.audit).
"""
from django.db import models


class CommandExportLog(models.Model):
    """An export written by a management command: who ran it, when, what, how many rows."""

    os_user = models.CharField("operating-system user", max_length=150)
    command = models.CharField("command", max_length=100)
    file = models.CharField("file", max_length=300, help_text="'-' for standard output")
    options = models.JSONField("options", default=dict, blank=True)
    row_count = models.PositiveIntegerField("rows", null=True, blank=True)
    created_at = models.DateTimeField("when", auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "command export"

    def __str__(self) -> str:
        return f"{self.command} {self.file} by {self.os_user} at {self.created_at:%Y-%m-%d %H:%M}"


class PeopleChangeLog(models.Model):
    """A data manager's change to a user (People page): invited, role given or removed,
    deactivated, reactivated, second factor reset, sign-in lock cleared, link issued.

    Names, not foreign keys: the row outlives the users, and is never updated or deleted
    (on PostgreSQL a trigger refuses both, core/migrations/0003_signin_people_change_log).
    """

    by_username = models.CharField("by", max_length=150)
    username = models.CharField("user", max_length=150, db_index=True)
    action = models.CharField("action", max_length=40)
    detail = models.CharField("detail", max_length=300, blank=True)
    created_at = models.DateTimeField("when", auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "change to a user"

    def __str__(self) -> str:
        return f"{self.action} {self.username} by {self.by_username}"


class AdminListReadLog(models.Model):
    """An admin change-list page that showed patients' data: who, when, which page and the
    study IDs on it (one row per page view; the change pages log per patient instead).

    Names, not foreign keys, like PeopleChangeLog; on PostgreSQL a trigger refuses UPDATE
    and DELETE (core/migrations/0004_cache2_admin_list_read_log).
    """

    username = models.CharField("user", max_length=150, db_index=True)
    path = models.CharField("page", max_length=300)
    study_ids = models.JSONField("study IDs shown", default=list)
    created_at = models.DateTimeField("when", auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "admin list read"

    def __str__(self) -> str:
        return f"{self.username} listed {len(self.study_ids)} study IDs at {self.path}"
