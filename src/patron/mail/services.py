"""Inbound mail, one road: `receive_raw` stores the bytes (and nothing else) and enqueues
`process`, which parses, recognizes loops and bounces, finds the contact and the ticket, and adds
the message through `tickets.services`. Every transport (IMAP, SMTP/LMTP, pipe) calls
`receive_raw`; a mail that cannot be processed stays stored, marked failed with the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from patron.core.errors import InvalidInput, PatronError
from patron.mail import parsing, quotes, threads
from patron.mail.models import InboundMail, Mailbox, MailThread, OutboundMail
from patron.people import services as people
from patron.people.models import Contact
from patron.tickets import services as tickets
from patron.tickets.models import Channel, Message, Status, Ticket

logger = logging.getLogger(__name__)

# A received mail not processed after this long (its task lost with a dead worker) is enqueued
# again by the periodic job.
PROCESS_GRACE = timedelta(seconds=60)


def max_raw_bytes() -> int:
    """The largest message accepted at the door: every attachment at its limit, plus room for
    base64 and the text."""
    return int(settings.PATRON_MAX_ATTACHMENT_BYTES) * 2 + 5 * 1024 * 1024


def mailbox_for(addresses: Sequence[str]) -> Mailbox | None:
    """The active mailbox one of these recipient addresses belongs to (plus-addresses too)."""
    for address in addresses:
        local, _, domain = address.strip().lower().rpartition("@")
        base = local.split("+", 1)[0]
        found = Mailbox.objects.filter(address__iexact=f"{base}@{domain}", active=True).first()
        if found is not None:
            return found
    return None


def receive_raw(
    raw: bytes,
    *,
    mailbox: Mailbox,
    source: str,
    received_at: datetime,
    envelope_from: str = "",
    envelope_to: Sequence[str] = (),
) -> InboundMail:
    """Store one message's bytes, committed, before anything parses them; enqueue processing.

    The same bytes arriving twice in a mailbox (an IMAP refetch, an MTA retrying after a lost
    250) are the same row. Must not run inside an outer transaction: when it returns, the mail
    is on disk, and the transport may acknowledge it.
    """
    from patron.mail.tasks import process_inbound

    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("receive_raw commits by itself; call it outside a transaction")
    digest = hashlib.sha256(raw).hexdigest()
    with transaction.atomic():
        mail, created = InboundMail.objects.get_or_create(
            mailbox=mailbox,
            sha256=digest,
            defaults={
                "raw": raw,
                "size": len(raw),
                "source": source,
                "envelope_from": envelope_from[:320],
                "envelope_to": list(envelope_to),
                "received_at": received_at,
            },
        )
        if created:
            transaction.on_commit(partial(process_inbound.enqueue, mail.pk), robust=True)
    return mail


def _our_addresses() -> set[str]:
    addresses = {a.lower() for a in Mailbox.objects.values_list("address", flat=True)}
    default = parsing.parse(f"From: {settings.DEFAULT_FROM_EMAIL}\n\n".encode()).sender
    if default is not None and default.address:
        addresses.add(default.address.lower())
    return addresses


def _is_ours(address: str, ours: set[str]) -> bool:
    local, _, domain = address.lower().rpartition("@")
    return address.lower() in ours or f"{local.split('+', 1)[0]}@{domain}" in ours


def _fail(mail: InboundMail, reason: str, *, state: str = InboundMail.State.FAILED) -> None:
    mail.state = state
    mail.reason = reason
    mail.processed_at = timezone.now()
    mail.save(update_fields=["state", "reason", "processed_at"])


def _uploads(parsed: parsing.ParsedMail) -> list[tickets.Upload]:
    return [
        tickets.Upload(
            filename=attachment.filename,
            content_type=attachment.content_type,
            content=attachment.data,
            content_id=attachment.content_id if attachment.inline else None,
        )
        for attachment in parsed.attachments
    ]


def _sender_over_limit(mail: InboundMail, sender: str) -> bool:
    limit = mail.mailbox.sender_limit_per_hour
    recent = InboundMail.objects.filter(
        mailbox=mail.mailbox,
        sender=sender,
        received_at__gt=mail.received_at - timedelta(hours=1),
        received_at__lte=mail.received_at,
        state=InboundMail.State.PROCESSED,
    ).exclude(pk=mail.pk)
    return recent.count() >= limit


def _agent_with_address(address: str) -> User | None:
    return User.objects.filter(email__iexact=address, is_active=True, agent__isnull=False).first()


def _bounce(mail: InboundMail, bounce: parsing.Bounce) -> None:
    """A delivery report: mark our outbound mail bounced, with the remote server's answer."""
    from patron.mail import outbound

    original = (
        OutboundMail.objects.filter(message_id_header=bounce.original_message_id).first()
        if bounce.original_message_id
        else None
    )
    if original is None:
        _fail(mail, "A delivery report for a message Patron did not send (or cannot find).")
        return
    outbound.mark_bounced(original, bounce, now=mail.received_at)
    mail.ticket = original.ticket
    _fail(
        mail,
        f"Delivery report for our mail {bounce.original_message_id}: recorded as a bounce.",
        state=InboundMail.State.IGNORED,
    )
    mail.save(update_fields=["ticket"])


def _cc_contacts(
    parsed: parsing.ParsedMail, sender: str, ours: set[str], now: datetime
) -> tuple[list[Contact], list[User]]:
    contacts: list[Contact] = []
    agents: list[User] = []
    for address in (*parsed.cc, *parsed.to):
        if not address.address or address.address == sender or _is_ours(address.address, ours):
            continue
        agent = _agent_with_address(address.address)
        if agent is not None:
            agents.append(agent)
            continue
        if address in parsed.cc:
            try:
                contacts.append(
                    people.get_or_create_contact(email=address.address, name=address.name, now=now)
                )
            except InvalidInput:
                continue  # an unusable address in Cc is not a reason to refuse the mail
    return contacts, agents


def _forwarded_sender(parsed: parsing.ParsedMail) -> parsing.Address | None:
    """In a mail an agent forwarded, the original sender ("From:" of the forwarded part)."""
    for attachment in parsed.attachments:
        if attachment.content_type == "message/rfc822":
            inner = parsing.parse(attachment.data)
            if inner.sender is not None and inner.sender.address:
                return inner.sender
    for line in parsed.text.splitlines():
        stripped = line.strip().lstrip(">").strip()
        for prefix in ("From:", "Von:", "De :", "De:", "Van:", "Dari:"):
            if stripped.startswith(prefix):
                candidate = parsing.parse(f"From: {stripped[len(prefix) :].strip()}\n\n".encode())
                if candidate.sender is not None and candidate.sender.address:
                    return candidate.sender
    return None


def process(mail: InboundMail) -> None:
    """Turn one stored mail into a ticket message, or mark why not. Runs in the caller's
    transaction, which must hold the mail row (see tasks.process_inbound)."""
    mail.attempts += 1
    mail.save(update_fields=["attempts"])
    parsed = parsing.parse(bytes(mail.raw), max_attachment_bytes=tickets.max_attachment_bytes())
    mail.message_id_header = (parsed.message_id or "")[:998]
    mail.subject = parsed.subject[:998]
    mail.sender = (parsed.sender.address if parsed.sender else "")[:320]
    mail.headers = [list(pair) for pair in parsed.headers]
    mail.save(update_fields=["message_id_header", "subject", "sender", "headers"])

    problem = parsing.is_unprocessable(parsed)
    if problem is not None:
        _fail(mail, problem)
        return
    ours = _our_addresses()
    if _is_ours(mail.sender, ours):
        _fail(
            mail,
            f"Sent from our own address {mail.sender}: not taken in again.",
            state=InboundMail.State.IGNORED,
        )
        return
    if mail.message_id_header:
        earlier = (
            InboundMail.objects.filter(
                mailbox=mail.mailbox,
                message_id_header=mail.message_id_header,
                state=InboundMail.State.PROCESSED,
            )
            .exclude(pk=mail.pk)
            .first()
        )
        if earlier is not None:
            mail.ticket = earlier.ticket
            mail.save(update_fields=["ticket"])
            _fail(
                mail,
                f"Same Message-ID as mail {earlier.pk}, already processed.",
                state=InboundMail.State.DUPLICATE,
            )
            return
    if parsed.bounce is not None:
        _bounce(mail, parsed.bounce)
        return
    if not mail.bypass_limits and _sender_over_limit(mail, mail.sender):
        _fail(
            mail,
            f"{mail.sender} sent more than {mail.mailbox.sender_limit_per_hour} mails in an "
            "hour (a mail loop?); held here. Retry it to take it in.",
        )
        return
    _deliver(mail, parsed, ours)


def _deliver(mail: InboundMail, parsed: parsing.ParsedMail, ours: set[str]) -> None:
    assert parsed.sender is not None
    arrived = mail.received_at
    sender = parsed.sender
    agent = _agent_with_address(sender.address)
    forwarded_by: User | None = None
    if agent is not None:
        original = _forwarded_sender(parsed)
        if original is not None and not _is_ours(original.address, ours):
            forwarded_by, sender = agent, original
    contact = people.find_contact(sender.address)
    if contact is None:
        if not mail.mailbox.allow_unknown_senders:
            _fail(mail, f"{sender.address} is not a known contact, and this mailbox only "
                  "takes mail from known contacts.")  # fmt: skip
            return
        contact = people.get_or_create_contact(email=sender.address, name=sender.name, now=arrived)
    recipients = [a.address for a in (*parsed.to, *parsed.cc)] + list(mail.envelope_to)
    match: threads.Match | None = None
    message: Message | None
    if forwarded_by is None:
        match = threads.find(
            mail.mailbox,
            contact=contact,
            subject=parsed.subject,
            in_reply_to=parsed.in_reply_to,
            references=parsed.references,
            recipients=recipients,
            arrived=arrived,
        )
    text_split = quotes.split_text(parsed.text)
    html_split = quotes.split_html(parsed.html) if parsed.html else quotes.Split("", "")
    body = text_split.reply or parsed.text or "(no text)"
    uploads = _uploads(parsed)
    cc_contacts, cc_agents = _cc_contacts(parsed, sender.address, ours, arrived)
    follow_up_of: Ticket | None = None
    if match is not None and match.ticket.status == Status.CLOSED:
        follow_up_of, match = match.ticket, None
    if match is not None:
        ticket = match.ticket
        message = tickets.add_customer_message(
            ticket,
            contact=contact,
            body=body,
            body_html=html_split.reply,
            uploads=uploads,
            now=arrived,
        )
        created = False
    else:
        subject = parsed.subject or "(no subject)"
        ticket = tickets.create_ticket(
            requester=contact,
            subject=subject,
            body=body,
            body_html=html_split.reply,
            now=arrived,
            channel=Channel.EMAIL,
            team=mail.mailbox.default_team,
            uploads=uploads,
            actor=forwarded_by,
        )
        message = Message.objects.filter(ticket=ticket).order_by("id").first()
        created = True
    thread, _ = MailThread.objects.get_or_create(
        ticket=ticket, defaults={"mailbox": mail.mailbox, "follow_up_of": follow_up_of}
    )
    if cc_contacts:
        thread.cc.add(*[c for c in cc_contacts if c.pk != ticket.requester_id])
    for colleague in cc_agents:
        if colleague not in ticket.followers.all():
            # An agent who may not see the ticket is simply not added.
            with contextlib.suppress(PatronError):
                tickets.follow(ticket, colleague, actor=colleague, now=arrived)
    mail.ticket = ticket
    mail.message = message
    mail.quoted_text = text_split.quoted
    mail.quoted_html = html_split.quoted
    mail.remote_images = "data-remote-src" in parsed.html
    mail.state = InboundMail.State.PROCESSED
    mail.reason = (
        f"Follow-up of closed ticket #{follow_up_of.number}." if follow_up_of is not None else ""
    )
    mail.processed_at = timezone.now()
    mail.save()
    if created and mail.mailbox.send_acknowledgement and parsed.auto_submitted is None:
        from patron.mail import outbound

        outbound.queue_acknowledgement(ticket, mailbox=mail.mailbox, to=contact, now=arrived)


def retry(mail: InboundMail) -> None:
    """An admin asks to process a failed mail again (after fixing the cause)."""
    from patron.mail.tasks import process_inbound

    with transaction.atomic():
        updated = InboundMail.objects.filter(
            pk=mail.pk, state__in=[InboundMail.State.FAILED, InboundMail.State.DISCARDED]
        ).update(state=InboundMail.State.RECEIVED, reason="", bypass_limits=True)
        if updated:
            transaction.on_commit(partial(process_inbound.enqueue, mail.pk), robust=True)


def discard(mail: InboundMail, *, now: datetime) -> None:
    """An admin decides a failed mail needs no ticket; its bytes stay for the record."""
    InboundMail.objects.filter(pk=mail.pk, state=InboundMail.State.FAILED).update(
        state=InboundMail.State.DISCARDED, processed_at=now
    )
