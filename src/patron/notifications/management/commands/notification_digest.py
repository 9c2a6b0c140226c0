"""`patron manage notification_digest --since-hours 24`: email agents their unread notifications."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from patron.notifications.digest import send_digests

DEFAULT_SINCE_HOURS = 24
MAX_SINCE_HOURS = 24 * 366


def clock() -> datetime:
    """The time the digest is sent at; tests replace it."""
    return timezone.now()


class Command(BaseCommand):
    help = "Send each agent with unread notifications one plain-text email listing them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since-hours",
            type=int,
            default=DEFAULT_SINCE_HOURS,
            help="Only notifications created in the last N hours (default 24).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        hours = options["since_hours"]
        if not 0 < hours <= MAX_SINCE_HOURS:
            raise CommandError(f"--since-hours must be between 1 and {MAX_SINCE_HOURS}.")
        sent = send_digests(now=clock(), since=timedelta(hours=hours))
        self.stdout.write(f"Sent {sent} digest email{'s' if sent != 1 else ''}.")
