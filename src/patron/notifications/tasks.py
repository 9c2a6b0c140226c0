"""Background entry points of the notifications app; each reads `now` once, here."""

from __future__ import annotations

from django.tasks import task

from patron.core import clock
from patron.notifications import digest


@task()
def send_due_digests() -> int:
    """Queue the email of every agent whose digest is due (run hourly from
    `patron.core.schedule`); the outbound mail queue sends it."""
    return digest.send_digests(now=clock.now())
