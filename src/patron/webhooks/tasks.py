"""Background entry points of webhooks; each reads `now` once, here."""

from __future__ import annotations

from django.tasks import task

from patron.core import clock
from patron.webhooks import services


@task()
def send_webhook(delivery_id: int) -> str:
    """Send one delivery (enqueued after its row commits); a failure leaves it waiting for a
    retry or given up with the receiver's answer, never lost."""
    return services.send(delivery_id, now=clock.now())


@task()
def send_due_webhooks() -> int:
    """Send every delivery whose next attempt is due (every 30 s from `core.schedule`): the
    retries after a receiver's outage, and any delivery whose task was lost."""
    return services.send_due(now=clock.now())
