"""Background entry points of the email channel; each reads `now` once, here."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Q
from django.tasks import task
from django.urls import reverse

from patron.core import clock
from patron.core.errors import PatronError
from patron.mail import services
from patron.mail.models import InboundMail

logger = logging.getLogger(__name__)

REDRIVE_PRIORITY = 10


def attachment_url(number: int, attachment_id: int) -> str:
    """Where the ticket page serves a stored attachment (an inline image's new src)."""
    return reverse("ticket_attachment", args=[number, attachment_id])


# A worker takes the mails waiting after its own in one transaction, up to this many (and this
# many bytes of raw mail, its own always), so their receipts' task rows are one INSERT and the
# commit is one.
MAIL_BATCH = 50
MAIL_BATCH_BYTES = 16 * 1024 * 1024


@task()
def process_inbound(mail_id: int, alone: bool = False) -> str:
    """Process one stored mail and, unless `alone`, the mails still waiting that arrived after
    it, in one transaction, each in its own savepoint (`services.process_batch`); return this
    mail's state. Idempotent: a mail already processed (by another worker's batch, whose row
    locks we wait for) is left alone, and a mail taken by this batch makes its own task a no-op.
    A refusal or a crash in the processing marks the mail failed with the reason; its bytes
    stay. A worker killed mid-batch commits nothing: every mail in it still waits, for its own
    task or the re-drive (which sends each `alone`, in case the mail is what killed it)."""
    try:
        ids = _batch_from(mail_id, alone=alone)
        if not ids:
            return "not pending"
        pending = InboundMail.objects.filter(pk__in=ids, state=InboundMail.State.RECEIVED)
        # Parsed before the transaction: stored bytes never change, and no lock (on SQLite,
        # the whole database's) is held while mails are parsed.
        parsed = {pk: services.parse(bytes(raw)) for pk, raw in pending.values_list("pk", "raw")}
        if mail_id not in parsed:
            return "not pending"  # another worker took it meanwhile
        with transaction.atomic():
            states = services.process_batch(list(parsed), parsed, attachment_url=attachment_url)
        return states.get(mail_id, "not pending")
    except PatronError as refused:
        reason = str(refused)
    except Exception as error:  # a bug must not lose the mail: it is kept, failed, retryable
        logger.exception("processing inbound mail %s failed", mail_id)
        reason = f"Processing failed: {type(error).__name__}: {error}"
    # The batch rolled back as a whole: this mail is failed with the reason; the others wait
    # for their own tasks.
    services.mark_failed(mail_id, reason)
    return InboundMail.State.FAILED


def _batch_from(mail_id: int, *, alone: bool) -> list[int]:
    """This mail, if it is still waiting, and the waiting mails that arrived after it (in order
    of arrival, within the batch's bounds)."""
    waiting = InboundMail.objects.filter(state=InboundMail.State.RECEIVED)
    own = waiting.filter(pk=mail_id).values_list("received_at", "size").first()
    if own is None:
        return []
    if alone:
        return [mail_id]
    received_at, total = own
    after = (
        waiting.filter(Q(received_at__gt=received_at) | Q(received_at=received_at, pk__gt=mail_id))
        .order_by("received_at", "id")
        .values_list("pk", "size")[: MAIL_BATCH - 1]
    )
    ids = [mail_id]
    for pk, size in after:
        total += size
        if total > MAIL_BATCH_BYTES:
            break
        ids.append(pk)
    return ids


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
    # Each alone: a mail whose task died may be what killed the worker, and must not take a
    # batch of others down with it again.
    redrive = process_inbound.using(priority=REDRIVE_PRIORITY)
    for mail_id in pending:
        redrive.enqueue(mail_id, alone=True)
    return len(pending)
