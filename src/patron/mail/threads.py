"""Which ticket an inbound mail belongs to, in a fixed order of evidence:

1. `In-Reply-To`/`References` naming a Message-ID we sent or received;
2. the ticket tag in the subject (`[#1234]`), when the sender is on that ticket;
3. a per-ticket reply address (`support+t1234.<hmac>@…`), verified;
4. the fallback: same sender, same normalized subject, within the mailbox's window, not closed.

Recency is judged by arrival time, never by when a worker gets to the mail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.crypto import constant_time_compare, salted_hmac

from patron.mail.models import InboundMail, Mailbox, MailThread, OutboundMail
from patron.mail.parsing import ParsedMail, normalize_subject, ticket_tag
from patron.people.models import Contact
from patron.tickets.models import Status, Ticket

REPLY_TOKEN = re.compile(r"\+t(?P<number>\d+)\.(?P<mac>[0-9a-f]{10})@", re.IGNORECASE)


@dataclass(frozen=True)
class Match:
    ticket: Ticket
    how: str  # "headers", "subject tag", "reply address", "same subject"


def _mac(mailbox: Mailbox, number: int) -> str:
    value = f"{mailbox.pk}:{number}"
    return salted_hmac("patron.mail.reply-address", value, algorithm="sha256").hexdigest()[:10]


def reply_address(mailbox: Mailbox, ticket: Ticket) -> str:
    """The ticket's own reply address: a reply to it threads even with every header stripped."""
    local, _, domain = mailbox.address.partition("@")
    return f"{local}+t{ticket.number}.{_mac(mailbox, ticket.number)}@{domain}"


def ticket_from_reply_address(mailbox: Mailbox, addresses: Iterable[str]) -> int | None:
    local, _, domain = mailbox.address.partition("@")
    for address in addresses:
        lowered = address.lower()
        if not (lowered.startswith(f"{local.lower()}+t") and lowered.endswith(f"@{domain}")):
            continue
        found = REPLY_TOKEN.search(lowered)
        if found and constant_time_compare(found["mac"], _mac(mailbox, int(found["number"]))):
            return int(found["number"])
    return None


def _survivor(ticket: Ticket) -> Ticket:
    """Mail to a merged ticket goes to the ticket it was merged into; mail to a closed ticket
    to its open follow-up, if there is one."""
    seen = {ticket.pk}
    while ticket.merged_into_id is not None and ticket.merged_into_id not in seen:
        seen.add(ticket.merged_into_id)
        ticket = Ticket.objects.get(pk=ticket.merged_into_id)
    return _open_follow_up(ticket)


def by_headers(mailbox: Mailbox, ids: Sequence[str]) -> Ticket | None:
    """The ticket of the newest of `ids` that we sent or received in this mailbox.

    Two queries whatever the length of References (a long thread names every message)."""
    ids = [i for i in ids if i]
    if not ids:
        return None
    sent = dict(
        OutboundMail.objects.filter(message_id_header__in=ids).values_list(
            "message_id_header", "ticket_id"
        )
    )
    received: dict[str, int | None] = {}
    for message_id, ticket_id in (
        InboundMail.objects.filter(mailbox=mailbox, message_id_header__in=ids, ticket__isnull=False)
        .order_by("-id")
        .values_list("message_id_header", "ticket_id")
    ):
        received[message_id] = ticket_id  # ordered newest first: the oldest row wins
    for message_id in reversed(ids):  # References lists oldest first; the parent is last
        found = sent.get(message_id) or received.get(message_id)
        if found is not None:
            return Ticket.objects.filter(pk=found).first()
    return None


def _open_follow_up(ticket: Ticket) -> Ticket:
    """A closed ticket's newest follow-up still open: a second reply to the closed conversation
    joins the follow-up the first one opened instead of opening another."""
    if ticket.status != Status.CLOSED:
        return ticket
    follow_up = (
        Ticket.objects.filter(mail_thread__follow_up_of=ticket, merged_into__isnull=True)
        .exclude(status=Status.CLOSED)
        .order_by("-id")
        .first()
    )
    return follow_up if follow_up is not None else ticket


def on_ticket(contact: Contact, ticket: Ticket) -> bool:
    """Whether the sender may add to this ticket by naming it: its requester, someone copied on
    it, or a colleague at the requester's organization."""
    if ticket.requester_id == contact.pk:
        return True
    if MailThread.objects.filter(ticket=ticket, cc=contact).exists():
        return True
    return contact.organization_id is not None and contact.organization_id == (
        ticket.organization_id
    )


def by_fallback(
    mailbox: Mailbox, contact: Contact, subject: str, *, arrived: datetime
) -> Ticket | None:
    if mailbox.thread_fallback_days == 0:
        return None
    normalized = normalize_subject(subject)
    if not normalized:
        return None
    since = arrived - timedelta(days=mailbox.thread_fallback_days)
    candidates = (
        InboundMail.objects.filter(
            mailbox=mailbox,
            message__author_contact=contact,
            received_at__gte=since,
            received_at__lte=arrived,
            ticket__isnull=False,
        )
        .exclude(ticket__status=Status.CLOSED)
        .select_related("ticket")
        .order_by("-received_at", "-id")
    )
    for mail in candidates[:50]:
        if mail.ticket is not None and normalize_subject(mail.subject) == normalized:
            return mail.ticket
    return None


def find(
    mailbox: Mailbox,
    *,
    contact: Contact | None,
    subject: str,
    in_reply_to: Sequence[str],
    references: Sequence[str],
    recipients: Sequence[str],
    arrived: datetime,
) -> Match | None:
    """The ticket this mail continues, and by what evidence; None for a new conversation."""
    ids = [*references, *[i for i in in_reply_to if i not in references]]
    found = by_headers(mailbox, ids)
    if found is not None:
        return Match(_survivor(found), "headers")
    number = ticket_tag(subject)
    if number is not None and contact is not None:
        tagged = Ticket.objects.filter(number=number).first()
        if tagged is not None and on_ticket(contact, _survivor(tagged)):
            return Match(_survivor(tagged), "subject tag")
    number = ticket_from_reply_address(mailbox, recipients)
    if number is not None:
        addressed = Ticket.objects.filter(number=number).first()
        if addressed is not None:
            return Match(_survivor(addressed), "reply address")
    if contact is not None:
        same = by_fallback(mailbox, contact, subject, arrived=arrived)
        if same is not None:
            return Match(_survivor(same), "same subject")
    return None


def find_for(mail: InboundMail, parsed: ParsedMail, contact: Contact | None) -> Match | None:
    """`find` for a stored mail: its headers, its recipients and envelope, its arrival time."""
    return find(
        mail.mailbox,
        contact=contact,
        subject=parsed.subject,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        recipients=[a.address for a in (*parsed.to, *parsed.cc)] + list(mail.envelope_to),
        arrived=mail.received_at,
    )
