"""Celery tasks of the bookings app: thin, they call a service; schedules in settings."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from bookings.notifications import reminders


@shared_task(name="bookings.tasks.send_due_reminders")
def send_due_reminders() -> list[int]:
    """Beat, every 5 minutes: queue the SMS reminders now due (SMS_REMINDER_HOURS_BEFORE) on
    the outbox; the ids of the appointments. Safe to run twice or on two workers at once:
    each appointment is reminded once."""
    return reminders.reminders_enqueue_due(now=timezone.now())
