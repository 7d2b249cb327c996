"""Load the licensed full wording of items from a CSV file (columns: code, wording)."""
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from questionnaires.wording import item_wording_load, read_wording_file


class Command(BaseCommand):
    help = ("Load the full item wording your site is licensed to use (CSV with columns "
            "code,wording; codes as in questionnaires/instruments.py). All or nothing.")

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--source", default="", help="Licence or source to record.")

    def handle(self, *args, file: Path, source: str, **options):
        if not file.exists():
            raise CommandError(f"{file}: no such file.")
        try:
            rows = read_wording_file(file)
        except ValidationError as error:
            raise CommandError("\n".join(error.messages)) from None
        count = item_wording_load(rows=rows, source=source or file.name)
        self.stdout.write(f"Loaded the wording of {count} items from {file}.")
