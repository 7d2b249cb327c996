"""Study end: erase every reminder email address still held."""
from django.core.management.base import BaseCommand

from reminders.services import contacts_erase_all


class Command(BaseCommand):
    help = "Erase every reminder email address (at study end). The send log stays."

    def handle(self, *args, **options) -> None:
        erased = contacts_erase_all()
        self.stdout.write(f"Erased {erased} reminder address{'es' if erased != 1 else ''}.")
