"""Background entry points of the email channel; each reads `now` once, here."""

from __future__ import annotations

import logging

from django.db import transaction
from django.tasks import task
from django.utils import timezone

from patron.core.errors import PatronError
from patron.mail import services
from patron.mail.models import InboundMail

logger = logging.getLogger(__name__)


@task()
def process_inbound(mail_id: int) -> str:
    """Process one stored mail. Idempotent: a mail already processed (or being processed by
    another worker, whose row lock we wait for) is left alone. A refusal or a crash in the
    processing marks the mail failed with the reason; its bytes stay."""
    try:
        with transaction.atomic():
            mail = (
                InboundMail.objects.select_for_update()
                .select_related("mailbox")
                .filter(pk=mail_id, state=InboundMail.State.RECEIVED)
                .first()
            )
            if mail is None:
                return "not pending"
            services.process(mail)
            return mail.state
    except PatronError as refused:
        reason = str(refused)
    except Exception as error:  # a bug must not lose the mail: it is kept, failed, retryable
        logger.exception("processing inbound mail %s failed", mail_id)
        reason = f"Processing failed: {type(error).__name__}: {error}"
    InboundMail.objects.filter(pk=mail_id, state=InboundMail.State.RECEIVED).update(
        state=InboundMail.State.FAILED, reason=reason[:2000], processed_at=timezone.now()
    )
    return InboundMail.State.FAILED


@task()
def process_pending_mail() -> int:
    """Enqueue again every mail still waiting after the grace (its task died with a worker)."""
    cutoff = timezone.now() - services.PROCESS_GRACE
    pending = list(
        InboundMail.objects.filter(
            state=InboundMail.State.RECEIVED, received_at__lt=cutoff
        ).values_list("pk", flat=True)[:500]
    )
    for mail_id in pending:
        process_inbound.enqueue(mail_id)
    return len(pending)
