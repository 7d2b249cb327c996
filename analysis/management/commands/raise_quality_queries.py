"""`manage.py raise_quality_queries --by USERNAME [--list KEY ...]`: the system raises a
query for every row of the data-quality lists that has none unclosed (each with the row's
suggested question), in the name of a data manager."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from analysis.pages.quality import raise_queries_for_lists
from core.permissions import CAN_RAISE_QUERIES, has_capability
from dataqueries.models import QuerySource

LIST_KEYS = [key for key in QuerySource.values if key != QuerySource.MANUAL]


class Command(BaseCommand):
    help = ("Raise a query for every data-quality row without an unclosed one (the first "
            "rows each list shows), in the name of the data manager given by --by.")

    def add_arguments(self, parser):
        parser.add_argument("--by", required=True,
                            help="Username of the data manager the queries are raised by.")
        parser.add_argument("--list", action="append", choices=LIST_KEYS, dest="keys",
                            help="Only this list (repeatable; default: every list).")

    def handle(self, *args, by, keys, **options):
        user = get_user_model().objects.filter(username=by, is_active=True).first()
        if user is None or not has_capability(user, CAN_RAISE_QUERIES):
            raise CommandError(f"--by: {by} is not an active data manager.")
        raised = raise_queries_for_lists(by=user, keys=keys)
        for key, count in raised.items():
            self.stdout.write(f"{key}: {count} quer{'y' if count == 1 else 'ies'} raised")
