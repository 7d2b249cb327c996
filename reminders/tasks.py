"""The beat task (CELERY_BEAT_SCHEDULE "reminders-send-due", hourly)."""
from __future__ import annotations

import logging

from celery import shared_task

from .services import reminders_send_due

logger = logging.getLogger(__name__)


@shared_task(name="reminders.send_due", acks_late=True, ignore_result=True,
             soft_time_limit=600, time_limit=660)
def send_due() -> None:
    # a repeat is harmless: each reminder is sent once (ReminderSend's unique row)
    counts = reminders_send_due()
    logger.info("Reminders: %s", counts)
