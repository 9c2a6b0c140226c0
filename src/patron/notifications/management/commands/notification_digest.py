"""`patron manage notification_digest`: email agents the digests that are due now (queued as
outbound mail, sent by the mail queue like every reply).

The hourly periodic job `notification_digests` does the same; the command is for a desk that
runs without the scheduler, or to send at once. Each agent's preference and last digest decide
what goes out, so running it again, or alongside the job, sends nothing twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from patron.core import clock
from patron.notifications.digest import send_digests

MAX_SINCE_HOURS = 24 * 366


class Command(BaseCommand):
    help = (
        "Send each agent whose email digest is due one plain-text email listing their unread "
        "notifications since their last digest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since-hours",
            type=int,
            default=None,
            help="Leave out notifications created more than N hours ago "
            "(default: everything since each agent's last digest).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        hours = options["since_hours"]
        if hours is not None and not 0 < hours <= MAX_SINCE_HOURS:
            raise CommandError(f"--since-hours must be between 1 and {MAX_SINCE_HOURS}.")
        since = timedelta(hours=hours) if hours is not None else None
        queued = send_digests(now=clock.now(), since=since)
        self.stdout.write(f"Queued {queued} digest email{'s' if queued != 1 else ''}.")
