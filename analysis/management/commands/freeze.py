"""`manage.py freeze --label TEXT`: freeze the cohort as it is now (a citable dataset)."""
from __future__ import annotations

import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from analysis.freezes.services import freeze_create


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a bare container)
        return "unknown"


class Command(BaseCommand):
    help = ("Freeze the cohort: store the cohort CSV exactly as export_cohort writes it now, "
            "the codebook, the scoring and software versions, and the study's tables fitted "
            "on exactly those rows. Prints 'freeze ID sha256 HEX' (HEX: the SHA-256 of the "
            "frozen cohort CSV, what a paper cites). `export_cohort --freeze ID FILE` writes "
            "the frozen file again, byte for byte. Independent of any refit in progress: "
            "the freeze fits its own models here.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--label", required=True,
                            help="what the frozen dataset is for, e.g. 'Paper 1 analysis'")

    def handle(self, *args, label: str, **options) -> None:
        try:
            freeze = freeze_create(label=label, by_name=_os_user())
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                raise CommandError(" ".join(exc.messages)) from exc
            raise CommandError("; ".join(f"{field}: {' '.join(messages)}" for field, messages
                                         in exc.message_dict.items())) from exc
        snapshot = freeze.snapshot
        self.stdout.write(f"Frozen {snapshot.row_count} rows as \"{snapshot.label}\" "
                          f"(scoring {freeze.scoring_version}, commit "
                          f"{freeze.versions.get('git_commit', 'unknown')}).")
        self.stdout.write(f"freeze {freeze.pk} sha256 {snapshot.sha256}")
