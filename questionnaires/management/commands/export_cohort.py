"""`manage.py export_cohort FILE`: the cohort CSV with scores (`-` writes to stdout)."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from questionnaires.cohort_files.writer import write_cohort_csv


class _Unterminated:
    """The command's stdout without its automatic newline (csv ends its own lines)."""

    def __init__(self, out) -> None:
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text, ending="")


class Command(BaseCommand):
    help = (
        "Write the cohort CSV with scores: one row per complete administration, ordered by "
        "study ID, baseline before follow-up; scores at full precision, empty = missing; "
        "text a spreadsheet would run as a formula is prefixed with an apostrophe, as in the "
        "download. "
        "Patients whose withdrawal asks for their data to be removed are left out unless "
        "--include-withdrawn-excluded. FILE '-' writes to standard output."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="output path, or - for standard output")
        parser.add_argument("--include-withdrawn-excluded", action="store_true",
                            help="also export patients whose withdrawal removed their data "
                                 "from analysis")
        parser.add_argument("--include-drafts", action="store_true",
                            help="also export draft (incomplete) administrations")

    def handle(self, *args, **options) -> None:
        export_options = {
            "include_withdrawn_excluded": options["include_withdrawn_excluded"],
            "include_drafts": options["include_drafts"],
        }
        if options["file"] == "-":
            try:
                write_cohort_csv(_Unterminated(self.stdout), **export_options)
            except BrokenPipeError:  # e.g. piped into `head`: the reader has had enough
                pass
            return
        path = Path(options["file"])
        try:
            with path.open("w", encoding="utf-8", newline="") as stream:
                count = write_cohort_csv(stream, **export_options)
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror or exc}") from exc
        self.stdout.write(f"Wrote {count} rows to {path}.")
