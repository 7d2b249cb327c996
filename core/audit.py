"""Writes to the audit trail below every app: exports made by management commands, the
data managers' changes to users (the People page) and admin list pages of patients' data."""
from __future__ import annotations

import getpass
from typing import Any

from .models import AdminListReadLog, CommandExportLog, PeopleChangeLog


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a bare container): say so
        return "unknown"


def command_export_record(*, command: str, file: str, options: dict[str, Any],
                          row_count: int | None, completed: bool) -> CommandExportLog:
    """Record an export a command wrote, with the operating-system user who ran it.

    Written once, when the export ends (completed or not): the row is never updated, so
    the database can refuse every UPDATE of the table.
    """
    return CommandExportLog.objects.create(
        os_user=_os_user()[:150], command=command, file=file[:300],
        options={**options, "completed": completed}, row_count=row_count)


def people_change_record(*, by, user, action: str, detail: str = "") -> PeopleChangeLog:
    """Record a data manager's change to a user (clinics.services, the People page).
    Written in the change's own transaction: no change without its record."""
    return PeopleChangeLog.objects.create(by_username=by.get_username(),
                                          username=user.get_username(), action=action,
                                          detail=detail[:300])


def admin_list_read_record(*, user, path: str, study_ids: list[str]) -> AdminListReadLog:
    """Record an admin change-list page shown with patients' data: one row per page view,
    listing the study IDs on the page (in the order shown, each once)."""
    return AdminListReadLog.objects.create(username=user.get_username(), path=path[:300],
                                           study_ids=list(dict.fromkeys(study_ids)))
