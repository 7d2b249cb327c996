"""The reminders tests' fake clock, for the worklist column's tests moved here from
reminders/tests (their dates are reminders/tests/dates.py's)."""
from reminders.tests.conftest import clock  # noqa: F401
