"""Background entry points of the email channel; each reads `now` once, here."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.tasks import task

from patron.core import clock
from patron.core.errors import PatronError
from patron.mail import services
from patron.mail.models import InboundMail

logger = logging.getLogger(__name__)

REDRIVE_PRIORITY = 10


@task()
def process_inbound(mail_id: int) -> str:
    """Process one stored mail. Idempotent: a mail already processed (or being processed by
    another worker, whose row lock we wait for) is left alone. A refusal or a crash in the
    processing marks the mail failed with the reason; its bytes stay."""
    try:
        pending = InboundMail.objects.filter(pk=mail_id, state=InboundMail.State.RECEIVED)
        raw = pending.values_list("raw", flat=True).first()
        if raw is None:
            return "not pending"
        # Parsed before the transaction: stored bytes never change, and no lock (on SQLite,
        # the whole database's) is held while a large mail is parsed.
        parsed = services.parse(bytes(raw))
        with transaction.atomic():
            mail = pending.select_for_update().select_related("mailbox").defer("raw").first()
            if mail is None:
                return "not pending"  # another worker took it meanwhile
            services.process(mail, parsed=parsed)
            return mail.state
    except PatronError as refused:
        reason = str(refused)
    except Exception as error:  # a bug must not lose the mail: it is kept, failed, retryable
        logger.exception("processing inbound mail %s failed", mail_id)
        reason = f"Processing failed: {type(error).__name__}: {error}"
    # The processing's own writes were rolled back with it: count the attempt here.
    InboundMail.objects.filter(pk=mail_id, state=InboundMail.State.RECEIVED).update(
        state=InboundMail.State.FAILED,
        reason=reason[:2000],
        processed_at=clock.now(),
        attempts=F("attempts") + 1,
    )
    return InboundMail.State.FAILED


@task()
def process_pending_mail() -> int:
    """Enqueue again every mail still waiting after the grace (its task died with a worker),
    oldest arrival first, so a backlog threads as it would have when it arrived."""
    cutoff = clock.now() - services.process_grace()
    pending = list(
        InboundMail.objects.filter(state=InboundMail.State.RECEIVED, received_at__lt=cutoff)
        .order_by("received_at", "id")
        .values_list("pk", flat=True)[:500]
    )
    # Ahead of routine work (event deliveries queued since): this mail has waited long enough.
    redrive = process_inbound.using(priority=REDRIVE_PRIORITY)
    for mail_id in pending:
        redrive.enqueue(mail_id)
    return len(pending)
