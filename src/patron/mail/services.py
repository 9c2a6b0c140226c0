"""Inbound mail, one road: `receive_raw` stores the bytes (and nothing else) and enqueues
`process`, which parses, recognizes loops and bounces, finds the contact and the ticket, and adds
the message through `tickets.services`. Every transport (IMAP, SMTP/LMTP, pipe) calls
`receive_raw`; a mail that cannot be processed stays stored, marked failed with the reason.
Mailboxes are saved by `mailboxes.save_mailbox` only.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils.html import escape

from patron.core import clock
from patron.core.errors import InvalidInput, PatronError
from patron.mail import parsing, quotes, threads
from patron.mail.models import ClaimedMessageId, InboundMail, Mailbox, MailThread, OutboundMail
from patron.mail.parsing.autoreply import is_automatic_reply
from patron.people import permissions
from patron.people import services as people
from patron.people.models import Contact, Role
from patron.tickets import followers
from patron.tickets import services as tickets
from patron.tickets.attachments import AttachmentUrl, Upload, max_attachment_bytes
from patron.tickets.models import Channel, Message, Status, Ticket

logger = logging.getLogger(__name__)

# A received mail not processed after this long (its task lost with a dead worker) is enqueued
# again by the periodic job; PATRON_MAIL_PROCESS_GRACE_SECONDS overrides it (tests shorten it).
PROCESS_GRACE = timedelta(seconds=60)


def process_grace() -> timedelta:
    seconds = getattr(settings, "PATRON_MAIL_PROCESS_GRACE_SECONDS", None)
    return PROCESS_GRACE if seconds is None else timedelta(seconds=float(seconds))


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

    digest = hashlib.sha256(raw).hexdigest()
    # durable: refused inside an outer transaction (RuntimeError), so the commit is real.
    with transaction.atomic(durable=True):
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


@functools.lru_cache(maxsize=4)
def _address_of(value: str) -> str:
    return email.utils.parseaddr(value)[1].strip().lower()


def _our_addresses() -> set[str]:
    addresses = {a.lower() for a in Mailbox.objects.values_list("address", flat=True)}
    default = _address_of(str(settings.DEFAULT_FROM_EMAIL))
    if default:
        addresses.add(default)
    return addresses


@dataclass(frozen=True)
class Lookups:
    """What processing asks of every mail and a batch reads once: our own addresses, and the
    addresses of active agents (a mail from one may be a forward; an agent in Cc follows)."""

    ours: set[str]
    agents: frozenset[str]

    @classmethod
    def load(cls) -> Lookups:
        agents = User.objects.filter(is_active=True, agent__isnull=False).exclude(email="")
        return cls(
            ours=_our_addresses(),
            agents=frozenset(e.lower() for e in agents.values_list("email", flat=True)),
        )


def _is_ours(address: str, ours: set[str]) -> bool:
    local, _, domain = address.lower().rpartition("@")
    return address.lower() in ours or f"{local.split('+', 1)[0]}@{domain}" in ours


# What processing writes on the mail row: never `raw`, which can be megabytes.
PROCESSED_FIELDS = [
    "attempts", "message_id_header", "subject", "sender", "headers", "state", "reason",
    "processed_at", "ticket", "message", "quoted_text", "quoted_html", "remote_images",
]  # fmt: skip


def _fail(mail: InboundMail, reason: str, *, state: str = InboundMail.State.FAILED) -> None:
    ClaimedMessageId.objects.filter(mail=mail).delete()  # only a message holds its Message-ID
    mail.state = state
    mail.reason = reason
    mail.processed_at = clock.now()
    mail.save(update_fields=PROCESSED_FIELDS)


def _uploads(parsed: parsing.ParsedMail) -> list[Upload]:
    return [
        Upload(
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


def _agent_with_address(address: str, lookups: Lookups) -> User | None:
    if address.lower() not in lookups.agents:
        return None
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
    mail.ticket_id = original.ticket_id
    _fail(
        mail,
        f"Delivery report for our mail {bounce.original_message_id}: recorded as a bounce.",
        state=InboundMail.State.IGNORED,
    )


def _cc_contacts(
    parsed: parsing.ParsedMail, sender: str, lookups: Lookups, now: datetime
) -> tuple[list[Contact], list[User]]:
    contacts: list[Contact] = []
    agents: list[User] = []
    for address in (*parsed.cc, *parsed.to):
        if (
            not address.address
            or address.address.lower() == sender.lower()
            or _is_ours(address.address, lookups.ours)
        ):
            continue
        agent = _agent_with_address(address.address, lookups)
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


def _effective_sender(parsed: parsing.ParsedMail) -> parsing.Address | None:
    """Who we answer: From, or Reply-To when From has no usable address."""
    if parsed.sender is not None and parsed.sender.address:
        return parsed.sender
    return next((a for a in parsed.reply_to if a.address), None)


def _left_out_note(oversized: Sequence[str]) -> str:
    """Said in the message itself, so an agent reading it knows a file did not come through."""
    limit = max_attachment_bytes() / 1048576
    files = "; ".join(oversized)
    return (
        f"[Patron: attachment left out, over the {limit:.0f} MB limit: {files}. The original "
        "mail, with the file, is kept in the mail log.]"
    )


def parse(raw: bytes) -> parsing.ParsedMail:
    """Parse stored bytes with the attachment limit tickets enforce."""
    return parsing.parse(raw, max_attachment_bytes=max_attachment_bytes())


def process(
    mail: InboundMail,
    *,
    attachment_url: AttachmentUrl,
    parsed: parsing.ParsedMail | None = None,
    lookups: Lookups | None = None,
) -> None:
    """Turn one stored mail into a ticket message, or mark why not. Runs in the caller's
    transaction, which must hold the mail row (see tasks.process_inbound); `parsed` is
    `parse(mail.raw)` when the caller parsed it already, `lookups` what a batch read once.
    The mail's inline images are shown from `attachment_url`."""
    # The row is written once, when the outcome is known (`_fail` or `_deliver`).
    mail.attempts += 1
    if parsed is None:
        parsed = parse(bytes(mail.raw))
    sender = _effective_sender(parsed)
    mail.message_id_header = (parsed.message_id or "")[:998]
    mail.subject = parsed.subject[:998]
    mail.sender = (sender.address if sender else "")[:320]
    mail.headers = [list(pair) for pair in parsed.headers]

    problem = parsing.is_unprocessable(parsed)
    if problem is None and sender is None:
        problem = "no sender address: neither From nor Reply-To can be read"
    if problem is not None:
        _fail(mail, problem)
        return
    assert sender is not None
    lookups = lookups if lookups is not None else Lookups.load()
    if _is_ours(mail.sender, lookups.ours):
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
            .values_list("pk", "ticket_id")
            .first()
        ) or ClaimedMessageId.claim(mail)  # what the query cannot see yet
        if earlier is not None:
            mail.ticket_id = earlier[1]
            _fail(
                mail,
                f"Same Message-ID as mail {earlier[0]}, already processed.",
                state=InboundMail.State.DUPLICATE,
            )
            return
    if parsed.bounce is not None:
        _bounce(mail, parsed.bounce)
        return
    if parsed.auto_submitted is not None and is_automatic_reply(parsed.auto_submitted):
        _keep_automatic(mail, parsed, sender, attachment_url)  # sends nothing: before the limit
        return
    if not mail.bypass_limits and _sender_over_limit(mail, mail.sender):
        _fail(
            mail,
            f"{mail.sender} sent more than {mail.mailbox.sender_limit_per_hour} mails in an "
            "hour (a mail loop?); held here. Retry it to take it in.",
        )
        return
    _deliver(mail, parsed, sender, lookups, attachment_url)


def process_batch(
    mail_ids: Sequence[int],
    parsed: Mapping[int, parsing.ParsedMail],
    *,
    attachment_url: AttachmentUrl,
) -> dict[int, str]:
    """Process the stored mails among `mail_ids` still waiting, in the caller's transaction,
    in order of arrival, each in its own savepoint: one that is refused or raises is marked
    failed with the reason (its bytes stay) and the others go on. `parsed[id]` is the mail
    parsed before the transaction. Return each processed mail's state by id."""
    mails = (
        InboundMail.objects.select_for_update()
        .select_related("mailbox")
        .defer("raw")
        .filter(pk__in=list(mail_ids), state=InboundMail.State.RECEIVED)
        .order_by("received_at", "id")
    )
    lookups = Lookups.load()
    states: dict[int, str] = {}
    for mail in mails:
        try:
            with transaction.atomic():
                process(
                    mail, attachment_url=attachment_url, parsed=parsed[mail.pk], lookups=lookups
                )
        except PatronError as refused:
            mark_failed(mail.pk, str(refused))
        except Exception as error:  # a bug must not lose the mail: it is kept, failed, retryable
            logger.exception("processing inbound mail %s failed", mail.pk)
            mark_failed(mail.pk, f"Processing failed: {type(error).__name__}: {error}")
        else:
            states[mail.pk] = mail.state
            continue
        states[mail.pk] = InboundMail.State.FAILED
    return states


def mark_failed(mail_id: int, reason: str) -> None:
    """A mail whose processing was refused or raised: failed with the reason, retryable. Its
    processing's own writes were rolled back with it, so the attempt is counted here."""
    InboundMail.objects.filter(pk=mail_id, state=InboundMail.State.RECEIVED).update(
        state=InboundMail.State.FAILED,
        reason=reason[:2000],
        processed_at=clock.now(),
        attempts=F("attempts") + 1,
    )


def _processed(
    mail: InboundMail,
    parsed: parsing.ParsedMail,
    ticket: Ticket,
    message: Message | None,
    splits: tuple[quotes.Split, quotes.Split],
    reasons: list[str],
) -> None:
    """Write the outcome: the mail became `message` on `ticket`; the log keeps the quoted
    text and HTML (`splits`)."""
    mail.ticket = ticket
    mail.message = message
    mail.quoted_text, mail.quoted_html = splits[0].quoted, splits[1].quoted
    mail.remote_images = "data-remote-src" in parsed.html
    mail.state = InboundMail.State.PROCESSED
    if parsed.oversized:
        reasons.append(f"Left out, too big: {'; '.join(parsed.oversized)}.")
    mail.reason = " ".join(reasons)
    mail.processed_at = clock.now()
    mail.save(update_fields=PROCESSED_FIELDS)


def _keep_automatic(
    mail: InboundMail,
    parsed: parsing.ParsedMail,
    sender: parsing.Address,
    attachment_url: AttachmentUrl,
) -> None:
    """An automatic reply (out of office, an auto-responder, a read receipt) opens no ticket,
    reopens nothing and sends nothing: it is kept whole and collapsed on the open ticket it
    threads to, else only here, in the mail log."""
    contact = people.find_contact(sender.address)
    match = threads.find_for(mail, parsed, contact)
    if match is None:
        reason = "Automatic reply to no ticket"
    elif match.ticket.status == Status.CLOSED:
        mail.ticket_id = match.ticket.pk
        reason = f"Automatic reply to closed ticket #{match.ticket.number}"
    elif contact is None and not mail.mailbox.allow_unknown_senders:
        mail.ticket_id = match.ticket.pk
        reason = f"Automatic reply from {sender.address}, not a known contact"
    else:
        if contact is None:
            contact = people.get_or_create_contact(
                email=sender.address, name=sender.name, now=mail.received_at
            )
        message = tickets.add_customer_message(
            match.ticket,
            contact=contact,
            body=parsed.text if parsed.text.strip() else "(no text)",
            body_html=parsed.html,
            uploads=_uploads(parsed),
            attachment_url=attachment_url,
            now=mail.received_at,
            automatic=True,
        )
        why = f"Automatic reply ({parsed.auto_submitted}): kept collapsed on the ticket."
        whole = (quotes.Split(parsed.text, ""), quotes.Split(parsed.html, ""))
        _processed(mail, parsed, match.ticket, message, whole, [why])
        return
    _fail(mail, f"{reason} ({parsed.auto_submitted}): kept in the mail log.",
          state=InboundMail.State.IGNORED)  # fmt: skip


def _new_contact(sender: parsing.Address, *, now: datetime) -> Contact:
    """The sender no contact has (`find_contact` just said so), created; one created meanwhile
    by another worker is found instead."""
    try:
        return people.create_contact(email=sender.address, name=sender.name, now=now,
                                     require_all=False)  # fmt: skip
    except InvalidInput:
        found = people.find_contact(sender.address)
        if found is None:
            raise
        return found


def _deliver(
    mail: InboundMail,
    parsed: parsing.ParsedMail,
    sender: parsing.Address,
    lookups: Lookups,
    attachment_url: AttachmentUrl,
) -> None:
    arrived = mail.received_at
    ours = lookups.ours
    agent = _agent_with_address(sender.address, lookups)
    forwarded_by: User | None = None
    forwarded = False
    if agent is not None:
        original = _forwarded_sender(parsed)
        if (
            original is not None
            and not _is_ours(original.address, ours)
            and original.address.lower() != sender.address.lower()
        ):
            forwarded, sender = True, original
            # A light agent may not open tickets for others: the ticket is then the sender's own.
            if permissions.role_of(agent) not in (None, Role.LIGHT_AGENT):
                forwarded_by = agent
    contact = people.find_contact(sender.address)
    if contact is None:
        if not mail.mailbox.allow_unknown_senders:
            _fail(mail, f"{sender.address} is not a known contact, and this mailbox only "
                  "takes mail from known contacts.")  # fmt: skip
            return
        contact = _new_contact(sender, now=arrived)
    match = None if forwarded else threads.find_for(mail, parsed, contact)
    message: Message | None
    if forwarded:  # the forwarded mail is the customer's message: keep it whole
        text_split, html_split = quotes.Split(parsed.text, ""), quotes.Split(parsed.html, "")
    else:  # split on the HTML as it came, each part sanitized after (parsing.reply_parts)
        text_split, html_split = parsed.reply.text, parsed.reply.html
    body = text_split.reply or parsed.text
    html = html_split.reply
    if parsed.oversized:
        note = _left_out_note(parsed.oversized)
        body = f"{body.rstrip()}\n\n{note}" if body.strip() else note
        if html:
            html = f"{html}<p>{escape(note)}</p>"
    if not body.strip() and not html.strip():
        body = "(no text)"
    uploads = _uploads(parsed)
    cc_contacts, cc_agents = _cc_contacts(parsed, sender.address, lookups, arrived)
    follow_up_of: Ticket | None = None
    if match is not None and match.ticket.status == Status.CLOSED:
        follow_up_of, match = match.ticket, None
    if match is not None:
        ticket = match.ticket
        message = tickets.add_customer_message(
            ticket,
            contact=contact,
            body=body,
            body_html=html,
            uploads=uploads,
            attachment_url=attachment_url,
            now=arrived,
        )
        created = False
    else:
        subject = parsed.subject or "(no subject)"
        ticket = tickets.create_ticket(
            requester=contact,
            subject=subject,
            body=body,
            body_html=html,
            now=arrived,
            channel=Channel.EMAIL,
            team=mail.mailbox.default_team,
            uploads=uploads,
            attachment_url=attachment_url,
            actor=forwarded_by,
        )
        message = Message.objects.filter(ticket=ticket).order_by("id").first()
        created = True
    if created:
        thread = MailThread.objects.create(
            ticket=ticket, mailbox=mail.mailbox, follow_up_of=follow_up_of
        )
    else:
        thread, _ = MailThread.objects.get_or_create(
            ticket=ticket, defaults={"mailbox": mail.mailbox}
        )
    if cc_contacts:
        thread.cc.add(*[c for c in cc_contacts if c.pk != ticket.requester_id])
    if cc_agents:
        following = set(ticket.followers.values_list("pk", flat=True))
        for colleague in cc_agents:
            if colleague.pk not in following:
                # An agent who may not see the ticket is simply not added.
                with contextlib.suppress(PatronError):
                    followers.follow(ticket, colleague, actor=colleague, now=arrived)
    reasons = []
    if follow_up_of is not None:
        reasons.append(f"Follow-up of closed ticket #{follow_up_of.number}.")
    _processed(mail, parsed, ticket, message, (text_split, html_split), reasons)
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
