"""`manage.py import_cohort FILE [--dry-run] [--user NAME]`: all or nothing."""
from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from questionnaires.cohort_files.importer import import_cohort
from questionnaires.cohort_files.reader import CohortImportError


class Command(BaseCommand):
    help = (
        "Import a cohort CSV (one row per administration; columns as in DESIGN.md). "
        "All or nothing: on any error nothing is written and every error is listed with "
        "its line and column (the header is line 1). Patients new to the database are "
        "created with consent date = their baseline date, consent form version 'imported' "
        "and consent taken by 'import from <file name>'. Administrations are stored "
        "complete, scored by the data-entry scoring code, and recorded in the audit trail "
        "with the --user and the reason 'imported from <file name>'. A study ID already in "
        "the database must have the same clinic and characteristics; its new timepoints "
        "are added. Score columns (as in an export) are ignored: scores are recomputed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path of the cohort CSV (UTF-8)")
        parser.add_argument("--dry-run", action="store_true",
                            help="validate only and report what would be written")
        parser.add_argument("--user", help="username recorded as the author in the audit "
                                           "trail")
        parser.add_argument("--max-errors", type=int, default=200,
                            help="list at most this many errors (the total is always given)")

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        by = self._user(options["user"])
        try:
            with path.open(encoding="utf-8-sig", newline="") as stream:
                summary = import_cohort(stream=stream, source=path.name, by=by,
                                        dry_run=options["dry_run"])
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path} is not UTF-8 text ({exc.reason} at byte "
                               f"{exc.start}); nothing was written.") from exc
        except CohortImportError as exc:
            self.stderr.write(exc.report(limit=options["max_errors"]))
            raise CommandError(str(exc)) from exc
        prefix = "Dry run, nothing written. " if summary.dry_run else "Imported. "
        self.stdout.write(prefix + str(summary))

    def _user(self, username: str | None):
        if not username:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user '{username}'.") from None
