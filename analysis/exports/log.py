"""The export log: who exported which file, when, with which options and how many rows."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from ..models import ExportLog


def export_log_start(*, user: AbstractBaseUser, file: str, options: dict[str, Any],
                     row_count: int | None = None) -> ExportLog:
    """Record an export as it starts (row count known now, or written when it ends)."""
    log = ExportLog(user=user, file=file, options=options, row_count=row_count)
    log.full_clean()
    log.save()
    return log


def counted(rows: Iterable[Sequence[Any]], *, log: ExportLog) -> Iterator[Sequence[Any]]:
    """Pass rows through, then write how many went out to the export log.

    A download the client abandons part-way is logged with the rows sent so far and
    `"completed": false` in its options.
    """
    sent = 0
    completed = False
    try:
        for row in rows:
            sent += 1
            yield row
        completed = True
    finally:
        options = {**log.options, "completed": completed}
        ExportLog.objects.filter(pk=log.pk).update(row_count=sent, options=options)
