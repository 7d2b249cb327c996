"""`manage.py db_fingerprint [--database-url URL]`: every table's row count and checksum,
and the sequences' values, one line each, to compare a database with its restored backup.

    python manage.py db_fingerprint > before.txt
    python manage.py db_fingerprint --database-url postgres://.../restored > after.txt
    diff before.txt after.txt   # no output: the restore holds the same data

See core.backup for what the lines mean and README, "Backup and restore".
"""
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections

from core.backup import connection_to_url, database_fingerprint


class Command(BaseCommand):
    help = ("Print, for every table, its row count and a SHA-256 of its rows in primary-key "
            "order, then the sequences' values: equal output, equal data.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database-url", default="",
                            help="fingerprint this database (a DATABASE_URL) instead of the "
                                 "configured one, e.g. a restored copy")
        parser.add_argument("--database", default="default",
                            help="alias of the configured database (default: default)")

    def handle(self, *args, database_url: str, database: str, **options) -> None:
        if database_url:
            with connection_to_url(database_url) as connection:
                lines = database_fingerprint(connection)
        else:
            lines = database_fingerprint(connections[database])
        for line in lines:
            self.stdout.write(line)
