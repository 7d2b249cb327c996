"""An email backend that is down (settings.EMAIL_BACKEND in the fault tests)."""
from django.core.mail.backends.base import BaseEmailBackend


class FailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        recipients = ", ".join(r for message in email_messages for r in message.to)
        # like smtplib's errors, the message quotes the recipient: the log must not
        raise ConnectionRefusedError(f"mail server unreachable, not delivered to {recipients}")
