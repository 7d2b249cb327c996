"""Fixtures of the tests moved here from the apps: the reminders tests' fake clock (their
dates are reminders/tests/dates.py's) and the withdrawn patient of questionnaires' tests."""
from questionnaires.tests.test_withdrawal import withdrawn  # noqa: F401
from reminders.tests.conftest import clock  # noqa: F401
