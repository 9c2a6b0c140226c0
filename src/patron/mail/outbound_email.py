"""The email for a queued `OutboundMail` row: a ticket's reply or acknowledgement threaded with
our Message-ID, In-Reply-To, References and the ticket's reply address, the mailbox's signature
and the message's attachments; a mail about no one ticket (a digest) with its stored text only.
"""

from __future__ import annotations

from email.headerregistry import Address

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils.html import escape, linebreaks

from patron.mail import threads
from patron.mail.models import InboundMail, Mailbox, OutboundMail
from patron.people.models import Contact
from patron.tickets.models import Ticket

MAX_REFERENCES = 20


def _from_address(mailbox: Mailbox | None) -> str:
    if mailbox is None:
        return str(settings.DEFAULT_FROM_EMAIL)
    local, _, domain = mailbox.address.rpartition("@")
    return str(Address(display_name=mailbox.display_name, username=local, domain=domain))


def _usable_id(message_id: str) -> bool:
    return (
        bool(message_id) and message_id.isascii() and not any(c in message_id for c in " \t\r\n<>")
    )


def thread_ids(outbound: OutboundMail) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) for a mail: the newest inbound Message-ID on the ticket before
    it, and every Message-ID of the ticket's conversation in order (the first and the newest
    ones when there are too many). None and no references for a mail about no one ticket."""
    if outbound.ticket_id is None:
        return None, []
    inbound = [
        (m.received_at, m.pk, m.message_id_header)
        for m in InboundMail.objects.filter(
            ticket=outbound.ticket, received_at__lte=outbound.created_at
        )
        .exclude(message_id_header="")
        .only("received_at", "message_id_header")
    ]
    sent = [
        (m.created_at, m.pk, m.message_id_header)
        for m in OutboundMail.objects.filter(
            ticket=outbound.ticket, created_at__lte=outbound.created_at
        )
        .exclude(pk=outbound.pk)
        .only("created_at", "message_id_header")
    ]
    inbound = [row for row in sorted(inbound) if _usable_id(row[2])]
    in_reply_to = inbound[-1][2] if inbound else None
    ordered: list[str] = []
    for _, _, message_id in sorted(inbound + sent, key=lambda row: row[0]):
        if _usable_id(message_id) and message_id not in ordered:
            ordered.append(message_id)
    if len(ordered) > MAX_REFERENCES:
        ordered = [ordered[0], *ordered[-(MAX_REFERENCES - 1) :]]
    return in_reply_to, ordered


def _acknowledgement_text(ticket: Ticket, to: Contact | None) -> str:
    hello = f"Hello {to.name}," if to is not None and to.name else "Hello,"
    return (
        f"{hello}\n\n"
        f"We received your request [#{ticket.number}] “{ticket.subject}”. We will answer as "
        "soon as we can.\n\n"
        f"To add anything, reply to this email and keep [#{ticket.number}] in the subject.\n"
    )


_AUTO_SUBMITTED = {
    OutboundMail.Kind.ACKNOWLEDGEMENT: "auto-replied",  # RFC 3834: an answer to a mail
    OutboundMail.Kind.DIGEST: "auto-generated",  # not an answer to anything
}


def build_email(outbound: OutboundMail) -> EmailMultiAlternatives:
    """The Django email for a queued row: headers, body (a ticket mail with the mailbox's
    signature), attachments."""
    mailbox, ticket, message = outbound.mailbox, outbound.ticket, outbound.message
    if ticket is None or mailbox is None:
        return _ticketless_email(outbound, mailbox)
    if message is not None:
        body, html = message.body_text, message.body_html
    else:
        body, html = _acknowledgement_text(ticket, ticket.requester), ""
    if mailbox.signature.strip():
        body = f"{body.rstrip()}\n\n-- \n{mailbox.signature.strip()}\n"
        if html:
            html = f'{html}<div class="signature">{linebreaks(escape(mailbox.signature))}</div>'
    in_reply_to, references = thread_ids(outbound)
    headers = {"Message-ID": f"<{outbound.message_id_header}>"}
    if in_reply_to:
        headers["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        headers["References"] = " ".join(f"<{m}>" for m in references)
    _add_auto_submitted(outbound, headers)
    email = EmailMultiAlternatives(
        subject=outbound.subject,
        body=body,
        from_email=_from_address(mailbox),
        to=list(outbound.to),
        cc=list(outbound.cc),
        reply_to=[threads.reply_address(mailbox, ticket)],
        headers=headers,
    )
    if html:
        email.attach_alternative(html, "text/html")
    if message is not None:
        for attachment in message.attachments.all():
            with attachment.file.open("rb") as stored:
                email.attach(attachment.filename, stored.read(), attachment.content_type)
    return email


def _add_auto_submitted(outbound: OutboundMail, headers: dict[str, str]) -> None:
    if outbound.automatic:
        headers["Auto-Submitted"] = _AUTO_SUBMITTED.get(
            OutboundMail.Kind(outbound.kind), "auto-generated"
        )
        headers["X-Auto-Response-Suppress"] = "All"  # no out-of-office answers to it


def _ticketless_email(outbound: OutboundMail, mailbox: Mailbox | None) -> EmailMultiAlternatives:
    """A mail about no one ticket: its stored text, no signature (the mailbox's is written for
    customers), no threading and no Reply-To (an answer is not about a ticket either)."""
    headers = {"Message-ID": f"<{outbound.message_id_header}>"}
    _add_auto_submitted(outbound, headers)
    return EmailMultiAlternatives(
        subject=outbound.subject,
        body=outbound.body,
        from_email=_from_address(mailbox),
        to=list(outbound.to),
        cc=list(outbound.cc),
        headers=headers,
    )
