"""Writes to the audit trail below every app: exports made by management commands."""
from __future__ import annotations

import getpass
from typing import Any

from .models import CommandExportLog


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
