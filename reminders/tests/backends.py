"""Email backends for the fault tests (settings.EMAIL_BACKEND)."""
import time

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class FailingBackend(BaseEmailBackend):
    """The mail server is down."""

    def send_messages(self, email_messages):
        recipients = ", ".join(r for message in email_messages for r in message.to)
        # like smtplib's errors, the message quotes the recipient: the log must not
        raise ConnectionRefusedError(f"mail server unreachable, not delivered to {recipients}")


class SlowBackend(LocmemBackend):
    """A slow mail server: widens the moment in which two runs could both send."""

    def send_messages(self, email_messages):
        time.sleep(0.3)
        return super().send_messages(email_messages)
