"""`manage.py export_cohort FILE`: the cohort CSV with scores (`-` writes to stdout);
`--freeze ID` writes a dataset freeze's frozen cohort CSV instead, byte for byte."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.audit import command_export_record
from questionnaires.cohort_files.writer import write_cohort_csv
from questionnaires.models import CohortSnapshot


class _Unterminated:
    """The command's stdout without its automatic newline (csv ends its own lines)."""

    def __init__(self, out) -> None:
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text, ending="")


class Command(BaseCommand):
    help = (
        "Write the cohort CSV with scores: one row per complete administration, ordered by "
        "study ID, baseline before follow-up; scores at 2 decimals, empty = missing, the "
        "last column (missing_reasons) saying why (an item declined on the tablet or link: "
        "declined); "
        "text a spreadsheet would run as a formula is prefixed with an apostrophe, as in the "
        "download. "
        "Patients whose withdrawal asks for their data to be removed are left out unless "
        "--include-withdrawn-excluded. FILE '-' writes to standard output. With --freeze ID, "
        "the file frozen by `manage.py freeze` (ID as it printed), byte for byte, whatever "
        "changed since. Every run is logged (core.CommandExportLog) with the "
        "operating-system user."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="output path, or - for standard output")
        parser.add_argument("--include-withdrawn-excluded", action="store_true",
                            help="also export patients whose withdrawal removed their data "
                                 "from analysis")
        parser.add_argument("--include-drafts", action="store_true",
                            help="also export draft (incomplete) administrations")
        parser.add_argument("--freeze", type=int, metavar="ID",
                            help="write the cohort CSV of dataset freeze ID (as `manage.py "
                                 "freeze` printed it) instead of the live data")

    def handle(self, *args, **options) -> None:
        export_options = {
            "include_withdrawn_excluded": options["include_withdrawn_excluded"],
            "include_drafts": options["include_drafts"],
        }
        if options["freeze"] is not None:
            export_options = {**export_options, "freeze": options["freeze"]}
        count = None
        try:
            if options["freeze"] is not None:
                count = self._write_frozen(options["file"], self._snapshot(export_options))
            else:
                count = self._export(options["file"], export_options)
        finally:  # logged whether it ends well or not, with the operating-system user
            command_export_record(command="export_cohort", file=options["file"],
                                  options=export_options, row_count=count,
                                  completed=count is not None)

    def _export(self, file: str, export_options: dict) -> int | None:
        if file == "-":
            try:
                return write_cohort_csv(_Unterminated(self.stdout), **export_options)
            except BrokenPipeError:  # e.g. piped into `head`: the reader has had enough
                return None
        path = Path(file)
        try:
            with path.open("w", encoding="utf-8", newline="") as stream:
                count = write_cohort_csv(stream, **export_options)
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror or exc}") from exc
        self.stdout.write(f"Wrote {count} rows to {path}.")
        return count

    def _snapshot(self, export_options: dict) -> CohortSnapshot:
        freeze_id = export_options["freeze"]
        if export_options["include_withdrawn_excluded"] or export_options["include_drafts"]:
            raise CommandError("--freeze: a frozen file is written as it was frozen; "
                               "--include-withdrawn-excluded and --include-drafts do not "
                               "apply to it.")
        snapshot = CohortSnapshot.objects.filter(pk=freeze_id).first()
        if snapshot is None:
            raise CommandError(f"--freeze: no freeze with id {freeze_id} (`manage.py "
                               "freeze` prints the id of each freeze it makes).")
        return snapshot

    def _write_frozen(self, file: str, snapshot: CohortSnapshot) -> int | None:
        data = bytes(snapshot.data)
        if file == "-":
            try:
                self.stdout.write(data.decode(), ending="")
            except BrokenPipeError:
                return None
            return snapshot.row_count
        path = Path(file)
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror or exc}") from exc
        self.stdout.write(f"Wrote {snapshot.row_count} rows of freeze {snapshot.pk} "
                          f"(\"{snapshot.label}\", sha256 {snapshot.sha256}) to {path}.")
        return snapshot.row_count
