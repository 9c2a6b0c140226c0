"""Reads of the email channel that pages share: each message's mail (how it arrived, how its
reply left), the raw bytes for download, and an inbound HTML body with its remote images."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from patron.mail import parsing
from patron.mail.models import InboundMail, OutboundMail
from patron.tickets.models import Message, Ticket


@dataclass(frozen=True)
class MessageMail:
    """What the ticket page shows about one message's email: `inbound` (without its raw
    bytes) for a customer's mail, `outbound` for an agent's reply sent by mail."""

    inbound: InboundMail | None = None
    outbound: OutboundMail | None = None

    @property
    def quoted_html(self) -> SafeString:
        """The quoted part of an HTML-only mail, sanitized again for the page (remote images
        stay blocked)."""
        if self.inbound is None or self.inbound.quoted_text or not self.inbound.quoted_html:
            return mark_safe("")
        return mark_safe(parsing.sanitize_mail_html(self.inbound.quoted_html))

    @property
    def has_quoted(self) -> bool:
        return self.inbound is not None and bool(
            self.inbound.quoted_text.strip() or self.inbound.quoted_html.strip()
        )

    @property
    def retryable(self) -> bool:
        return self.outbound is not None and self.outbound.state in (
            OutboundMail.State.FAILED,
            OutboundMail.State.BOUNCED,
        )


def mail_for_messages(message_ids: Iterable[int]) -> dict[int, MessageMail]:
    """Each message's mail, in two queries whatever the number of messages (raw bytes left)."""
    ids = list(message_ids)
    inbound = {
        mail.message_id: mail
        for mail in InboundMail.objects.filter(message_id__in=ids).defer("raw")
        if mail.message_id is not None
    }
    outbound = {
        mail.message_id: mail
        for mail in OutboundMail.objects.filter(message_id__in=ids)
        if mail.message_id is not None
    }
    return {
        pk: MessageMail(inbound=inbound.get(pk), outbound=outbound.get(pk))
        for pk in ids
        if pk in inbound or pk in outbound
    }


def inbound_for_message(ticket: Ticket, message_id: int) -> InboundMail | None:
    """The stored mail (raw bytes included) a message of this ticket came from."""
    return (
        InboundMail.objects.filter(message_id=message_id, message__ticket=ticket)
        .select_related("message")
        .first()
    )


def outbound_on_ticket(ticket: Ticket, outbound_id: int) -> OutboundMail | None:
    """One of this ticket's outbound mails (a reply moved here by a merge counts too)."""
    return (
        OutboundMail.objects.filter(Q(ticket=ticket) | Q(message__ticket=ticket), pk=outbound_id)
        .select_related("ticket")
        .first()
    )


def html_with_remote_images(ticket: Ticket, message: Message, inbound: InboundMail) -> SafeString:
    """The new part of an inbound mail's HTML with its remote images allowed, for an agent who
    asked: parsed again from the raw bytes (the stored body dropped the blocked URLs), inline
    images pointed at their stored attachments, and sanitized again. "" when it has no HTML."""
    parsed = parsing.parse(bytes(inbound.raw))
    if not parsed.html:
        return mark_safe("")
    html = parsed.reply.html.reply or parsed.html  # cut on the raw HTML, then sanitized
    stored = {a.sha256: a.pk for a in message.attachments.all()}
    urls: dict[str, str] = {}
    for attachment in parsed.attachments:
        digest = hashlib.sha256(attachment.data).hexdigest()
        if attachment.content_id and digest in stored:
            urls[attachment.content_id] = reverse(
                "ticket_attachment", args=[ticket.number, stored[digest]]
            )
    # nh3 output (allow_remote_images sanitizes last): safe to put on the page as it is.
    return mark_safe(parsing.allow_remote_images(parsing.rewrite_cid(html, urls)))
