"""`manage.py rescore [--dry-run]`: recompute every stored score by the current rules."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from questionnaires.rescoring import administrations_rescore


class Command(BaseCommand):
    help = ("Recompute every administration's scores from its stored answers by the current "
            "scoring rules (questionnaires/scoring.py, SCORING_VERSION) in one transaction. "
            "Administrations whose scores (or scoring version) differ are saved with a "
            "history record 'rescored to version X'; the count of administrations and of "
            "score values changed is printed. --dry-run reports without writing.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true",
                            help="compute and report only; nothing is written")

    def handle(self, *args, dry_run: bool, **options) -> None:
        report = administrations_rescore(dry_run=dry_run)
        changed, stamped = (("would change", "would be stamped") if dry_run
                            else ("changed", "stamped"))
        self.stdout.write(
            f"Scoring version {report.version}: {report.changed} of {report.checked} "
            f"administrations {changed} ({report.values_changed} score values); "
            f"{report.restamped} with unchanged scores {stamped} with the version.")
        if dry_run:
            self.stdout.write("Dry run: nothing written.")
        elif report.written == 0:
            self.stdout.write("Nothing to rescore: nothing written.")
        else:
            self.stdout.write(f"{report.written} administrations saved, each with a history "
                              f"record \"rescored to version {report.version}\".")
