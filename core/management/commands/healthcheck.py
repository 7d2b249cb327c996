"""`manage.py healthcheck [--broker]`: exit 0 when the database (and the broker) answer.

The worker container's health check: a worker that cannot reach either does no work.
"""
from django.core.management.base import BaseCommand, CommandError

from core.health import check_broker, check_database


class Command(BaseCommand):
    help = "Check that the database (and with --broker, the Celery broker) answer."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--broker", action="store_true", help="also check the broker")

    def handle(self, *args, broker: bool = False, **options) -> None:
        problems = [check_database(), check_broker() if broker else ""]
        problems = [problem for problem in problems if problem]
        if problems:
            raise CommandError("; ".join(problems))
        self.stdout.write("ok")
