"""The statistician's downloads: the files, and the services that build and log each.

The cohort CSV is questionnaires.cohort_files.writer's, byte for byte what
`manage.py export_cohort` writes (SQLite and PostgreSQL alike); the wide file is built
from the same neutralised rows. CSV files stream: rows go out in batches as they come
from the database, so the first bytes leave at once and memory stays flat whatever the
cohort's size. Every export is logged (who, when, which file, options, rows); a streamed
file's row count is written when the stream ends.

Only study IDs leave the system: the cohort rows hold no names, dates of birth or NHS
numbers (none are stored).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from core.permissions import CAN_MANAGE, has_capability
from questionnaires.cohort_files.writer import (
    cohort_csv_parts,
    cohort_rows,
    cohort_values,
    csv_text_chunks,
)

from ..freezes.selectors import freezes_list
from ..models import ExportLog
from ..report.sources import latest_report_run
from .codebook import CODEBOOK_HEADER, codebook_rows, cohort_columns, wide_columns
from .log import counted, export_log_start
from .snippets import r_snippet, stata_snippet
from .stata import write_dta
from .wide import wide_rows

FILES = {
    "cohort_csv": ("paincohort_cohort.csv", "text/csv; charset=utf-8"),
    "wide_csv": ("paincohort_wide.csv", "text/csv; charset=utf-8"),
    "codebook_csv": ("paincohort_codebook.csv", "text/csv; charset=utf-8"),
    "cohort_dta": ("paincohort_cohort.dta", "application/x-stata-dta"),
    "wide_dta": ("paincohort_wide.dta", "application/x-stata-dta"),
    "load_r": ("load_paincohort.R", "text/plain; charset=utf-8"),
    "load_stata": ("load_paincohort.do", "text/plain; charset=utf-8"),
}
# No patient data in these (column descriptions, loading code): every role that may see
# the export page (CAN_ANALYSE, researchers too) may download them; the others need
# CAN_DOWNLOAD.
DOCUMENTATION_FILES = frozenset({"codebook_csv", "load_r", "load_stata"})


def utf8(chunks: Iterable[str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode()


def cohort_csv_stream(*, user: AbstractBaseUser, options: dict[str, Any] | None = None
                      ) -> Iterator[bytes]:
    log = export_log_start(user=user, file=FILES["cohort_csv"][0], options=options or {})
    return utf8(_counted_parts(cohort_csv_parts(), log=log))


def _counted_parts(parts: Iterator[tuple[str, int]], *, log: ExportLog) -> Iterator[str]:
    """The text of (text, rows) parts; then the rows sent go to the export log, as
    log.counted does for rows (an abandoned download: rows so far, completed false)."""
    sent = 0
    completed = False
    try:
        for text, rows in parts:
            sent += rows
            yield text
        completed = True
    finally:
        # Stop the writer first: on PostgreSQL its COPY holds the connection the log
        # update needs.
        parts.close()
        options = {**log.options, "completed": completed}
        ExportLog.objects.filter(pk=log.pk).update(row_count=sent, options=options)


def wide_csv_stream(*, user: AbstractBaseUser, options: dict[str, Any] | None = None
                    ) -> Iterator[bytes]:
    log = export_log_start(user=user, file=FILES["wide_csv"][0], options=options or {})
    # The cohort rows' text cells are neutralised already; the wide file adds numbers only.
    rows = counted(wide_rows(cohort_rows()), log=log)
    return utf8(csv_text_chunks([c.name for c in wide_columns()], rows))


def codebook_export(*, user: AbstractBaseUser) -> Iterator[bytes]:
    rows = codebook_rows()
    export_log_start(user=user, file=FILES["codebook_csv"][0], options={},
                     row_count=len(rows))
    return utf8(csv_text_chunks(CODEBOOK_HEADER, rows))


def dta_export(*, user: AbstractBaseUser, shape: str) -> Any:
    """The cohort ("long") or wide file as .dta; returns an open temporary file.

    Stata does not run cell text as formulas: the .dta holds the values as stored."""
    if shape == "wide":
        handle, count = write_dta(wide_rows(cohort_values()), wide_columns())
    else:
        handle, count = write_dta(cohort_values(), cohort_columns())
    export_log_start(user=user, file=FILES[f"{'wide' if shape == 'wide' else 'cohort'}_dta"][0],
                     options={"shape": shape}, row_count=count)
    return handle


def snippet_export(*, user: AbstractBaseUser, language: str) -> str:
    text = r_snippet() if language == "r" else stata_snippet()
    export_log_start(user=user, file=FILES[f"load_{language}"][0], options={},
                     row_count=text.count("\n"))
    return text


def export_page_context(*, user: AbstractBaseUser) -> dict[str, Any]:
    """The export page: files, codebook, snippets, the dataset freezes (each with its
    files and its tables) and the user's recent exports."""
    return {
        "freezes": freezes_list(),
        "can_freeze": has_capability(user, CAN_MANAGE),
        "codebook_tables": [("Cohort CSV: one row per administration", cohort_columns()),
                            ("Wide CSV: one row per patient", wide_columns())],
        "r_snippet": r_snippet(),
        "stata_snippet": stata_snippet(),
        "recent_exports": list(ExportLog.objects.filter(user=user)[:10]),
        # the journal report of the dashboard's run (templates/analysis/_report_link.html)
        "report_run": latest_report_run(),
    }
