"""Background entry points of outbound mail; each reads `now` once, here."""

from __future__ import annotations

from django.tasks import task

from patron.core import clock
from patron.mail import outbound


@task()
def send_outbound_mail(outbound_id: int) -> str:
    """Send one queued mail (enqueued after the row commits); a failure leaves it queued or
    failed with the server's answer, never lost."""
    return outbound.send(outbound_id, now=clock.now())


@task()
def send_due_mail() -> int:
    """Send every queued mail whose next attempt is due (every 30 s from `core.schedule`): the
    retries after an SMTP outage, and any mail whose task was lost."""
    return outbound.send_due(now=clock.now())
