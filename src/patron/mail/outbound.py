"""Outbound mail: an agent's public reply (or an automatic acknowledgement, or an agent's
notification digest, `queue_mail`) becomes an `OutboundMail` row first, committed, and is sent
by a task afterwards.

The row is the durable part: an SMTP server that is down, slow or answering 4xx only delays the
mail (it stays queued, retried with a backoff); a 5xx refusal marks it failed with the server's
answer, and an agent can send it again. Sending is claimed with a conditional UPDATE that pushes
`next_attempt_at` past a lease, so two workers never send the same mail at once, and a worker
that dies mid-send leaves the mail due again once the lease runs out (at least once; the
Message-ID stays the same, so a rare double is threaded as one by the receiver).

A desk without any active mailbox sends no mail to customers: replies are kept on the ticket
only. Mail about no one ticket (a digest) goes out from the default mailbox; with no active
mailbox at all, through the site's mailer from `DEFAULT_FROM_EMAIL` (`PATRON_EMAIL_FROM`), as
Patron's own mail always did. The email itself is built from the row in `outbound_email`.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from email import policy as email_policy
from email.utils import parseaddr
from functools import partial

from django.conf import settings
from django.contrib.auth.models import User
from django.core import mail as django_mail
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend
from django.db import transaction
from django.db.models import F

from patron.core import backoff as core_backoff
from patron.core.errors import IllegalTransition
from patron.mail import parsing
from patron.mail.models import Mailbox, MailThread, OutboundMail, Security
from patron.mail.outbound_email import build_email
from patron.people import permissions
from patron.people.models import Contact
from patron.tickets.events import SystemActor, record_system_event
from patron.tickets.models import AuthorKind, EventKind, Message, Ticket, TicketEvent

logger = logging.getLogger(__name__)

MAIL_DELIVERY = SystemActor.system("Mail delivery")  # who records a bounce on the ticket
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
# A mail is given up (failed) once its retries have spanned this long by the backoff schedule;
# counted from its attempts, so a worker that was down does not eat into it, and an agent's
# retry starts a new window.
MAX_RETRY_SPAN = timedelta(days=3)
# A claimed mail is someone's for this long; far above the SMTP timeouts of one send.
LEASE = timedelta(minutes=15)
SEND_BATCH = 200
# SMTP answers that mean "fix the configuration", not "this mail can never go": retried.
_CONFIGURATION_CODES = {530, 534, 535, 538}


# Building the row


def reply_subject(subject: str, number: int) -> str:
    """`Re: {subject} [#{number}]`, without doubling the tag or the Re:."""
    subject = " ".join(subject.split()) or "(no subject)"
    if parsing.ticket_tag(subject) != number:
        subject = f"{subject} [#{number}]"
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    return subject


def _sender_address(mailbox: Mailbox | None) -> str:
    """The mailbox's address, or (no mailbox) the address in `DEFAULT_FROM_EMAIL`."""
    if mailbox is not None:
        return mailbox.address
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1]


def new_message_id(mailbox: Mailbox | None) -> str:
    """Our Message-ID for one outbound mail, without <>."""
    domain = _sender_address(mailbox).rpartition("@")[2] or "localhost"
    return f"patron.{uuid.uuid4().hex}@{domain}"


def default_mailbox() -> Mailbox | None:
    """The desk's default outgoing mailbox: the active one marked default, else the first
    active one; None on a desk without an active mailbox."""
    active = Mailbox.objects.filter(active=True)
    return active.filter(is_default=True).order_by("pk").first() or active.order_by("pk").first()


def mailbox_for_ticket(ticket: Ticket) -> Mailbox | None:
    """The ticket's mail thread's mailbox, else the desk's default mailbox."""
    thread = MailThread.objects.filter(ticket=ticket).select_related("mailbox").first()
    if thread is not None and thread.mailbox.active:
        return thread.mailbox
    return default_mailbox()


def _cc_addresses(ticket: Ticket, exclude: Iterable[str]) -> list[str]:
    thread = MailThread.objects.filter(ticket=ticket).first()
    if thread is None:
        return []
    excluded = {address.lower() for address in exclude}
    addresses: list[str] = []
    for contact in thread.cc.prefetch_related("emails").order_by("pk"):
        address = contact.primary_email
        if address and address.lower() not in excluded:
            excluded.add(address.lower())
            addresses.append(address)
    return addresses


def _enqueue_send(outbound_id: int) -> None:
    from patron.mail.outbound_tasks import send_outbound_mail

    send_outbound_mail.enqueue(outbound_id)


def send_reply_mail(event: TicketEvent) -> None:
    """Consumer of `message_added`: queue an agent's (or bot's) public reply for the requester.

    Idempotent: a message has at most one OutboundMail, so a second delivery does nothing.
    """
    if not event.data.get("public", True):
        return
    message = (
        Message.objects.select_related("ticket__requester")
        .filter(pk=event.data.get("message_id"))
        .first()
    )
    if message is None or not message.public:
        return
    if message.author_kind not in (AuthorKind.AGENT, AuthorKind.BOT):
        return
    if OutboundMail.objects.filter(message=message).exists():
        return
    ticket = message.ticket
    address = ticket.requester.primary_email
    if not address:
        return
    mailbox = mailbox_for_ticket(ticket)
    if mailbox is None:
        # DEBUG: a desk without a mailbox would log this for every reply; `patron serve` and
        # `patron check` say once that replies are not sent by email.
        logger.debug(
            "Ticket #%s: no active mailbox, so reply %s is not sent by email",
            ticket.number,
            message.pk,
        )
        return
    outbound = OutboundMail.objects.create(
        kind=OutboundMail.Kind.REPLY,
        message=message,
        ticket=ticket,
        mailbox=mailbox,
        message_id_header=new_message_id(mailbox),
        to=[address],
        cc=_cc_addresses(ticket, exclude=[address, mailbox.address]),
        subject=reply_subject(ticket.subject, ticket.number),
        next_attempt_at=event.at,
        created_at=event.at,
    )
    transaction.on_commit(partial(_enqueue_send, outbound.pk), robust=True)


def _acknowledgements_to(mailbox: Mailbox, address: str, *, now: datetime) -> int:
    recent = OutboundMail.objects.filter(
        mailbox=mailbox,
        kind=OutboundMail.Kind.ACKNOWLEDGEMENT,
        created_at__gt=now - timedelta(hours=1),
        created_at__lte=now,
    ).values_list("to", flat=True)
    wanted = address.lower()
    return sum(1 for to in recent if any(str(a).lower() == wanted for a in to))


def queue_acknowledgement(
    ticket: Ticket, *, mailbox: Mailbox, to: Contact, now: datetime
) -> OutboundMail | None:
    """Queue "We received your request [#1234]" for a new ticket's sender (automatic, so it
    carries `Auto-Submitted: auto-replied`). Never more acknowledgements to one address in an
    hour than the mailbox's per-sender limit: two desks answering each other stop there."""
    address = to.primary_email
    if not address:
        return None
    existing = OutboundMail.objects.filter(
        ticket=ticket, kind=OutboundMail.Kind.ACKNOWLEDGEMENT
    ).first()
    if existing is not None:
        return existing
    if _acknowledgements_to(mailbox, address, now=now) >= mailbox.sender_limit_per_hour:
        logger.warning(
            "Not acknowledging ticket #%s: %s already got %s acknowledgements this hour",
            ticket.number,
            address,
            mailbox.sender_limit_per_hour,
        )
        return None
    outbound = OutboundMail.objects.create(
        kind=OutboundMail.Kind.ACKNOWLEDGEMENT,
        message=None,
        ticket=ticket,
        mailbox=mailbox,
        message_id_header=new_message_id(mailbox),
        to=[address],
        subject=reply_subject(ticket.subject, ticket.number),
        automatic=True,
        next_attempt_at=now,
        created_at=now,
    )
    transaction.on_commit(partial(_enqueue_send, outbound.pk), robust=True)
    return outbound


def queue_mail(
    *, to: Sequence[str], subject: str, body: str, kind: OutboundMail.Kind, now: datetime
) -> OutboundMail:
    """Queue a plain-text mail that is about no one ticket (an agent's digest) on the same road
    as replies: sent after the caller's transaction commits, retried, failed with the answer.

    It leaves from the desk's default mailbox (through that mailbox's SMTP server, if it has
    one); on a desk without an active mailbox, through the site's mailer from
    `DEFAULT_FROM_EMAIL`. It carries `Auto-Submitted: auto-generated` and no Reply-To."""
    if kind in (OutboundMail.Kind.REPLY, OutboundMail.Kind.ACKNOWLEDGEMENT):
        raise ValueError(f"A {kind} is about a ticket: queue it from the ticket.")
    if isinstance(to, str):
        raise TypeError("`to` is a list of addresses.")
    mailbox = default_mailbox()
    outbound = OutboundMail.objects.create(
        kind=kind,
        mailbox=mailbox,
        message_id_header=new_message_id(mailbox),
        to=list(to),
        subject=subject,
        body=body,
        automatic=True,
        next_attempt_at=now,
        created_at=now,
    )
    transaction.on_commit(partial(_enqueue_send, outbound.pk), robust=True)
    return outbound


# Sending


def _smtp_for(mailbox: Mailbox | None) -> EmailBackend | None:
    """The mailbox's own SMTP server, or None for the site's default mailer."""
    if mailbox is None or not mailbox.smtp_host:
        return None
    return EmailBackend(
        alias=f"patron-mailbox-{mailbox.pk}",
        host=mailbox.smtp_host,
        port=mailbox.smtp_port,
        username=mailbox.smtp_username or None,
        password=mailbox.smtp_password or None,
        use_tls=mailbox.smtp_security == Security.STARTTLS,
        use_ssl=mailbox.smtp_security == Security.TLS,
        timeout=int(getattr(settings, "EMAIL_TIMEOUT", None) or 30),
    )


def _answer(code: int, text: bytes | str) -> str:
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(decoded.split())}".strip()


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{rcpt}: {_answer(code, text)}" for rcpt, (code, text) in refused.items())


def _deliver(mailbox: Mailbox | None, outgoing: EmailMultiAlternatives) -> str:
    """Hand the email to the SMTP server; return a note on recipients it refused (if some).

    Django's backend drops smtplib's list of refused recipients when others were accepted;
    this keeps it, so the page can say who did not get the mail."""
    backend = _smtp_for(mailbox) or django_mail.mailers.default
    if not isinstance(backend, EmailBackend):  # a test or console mailer: no SMTP answers
        backend.send_messages([outgoing])
        return ""
    from_address = backend.prep_address(outgoing.from_email)
    recipients = [backend.prep_address(address) for address in outgoing.recipients()]
    raw = outgoing.message(policy=email_policy.SMTP).as_bytes()
    with backend:
        assert backend.connection is not None
        refused = backend.connection.sendmail(from_address, recipients, raw)
    return f"Refused by the server: {_refusals(refused)}" if refused else ""


def classify(error: BaseException) -> tuple[bool, str]:
    """(permanent, the answer to show) for an error raised while sending."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return permanent, _refusals(error.recipients)
    if isinstance(error, smtplib.SMTPResponseException):
        code = error.smtp_code
        permanent = (
            isinstance(error, smtplib.SMTPSenderRefused | smtplib.SMTPDataError)
            and 500 <= code < 600
            and code not in _CONFIGURATION_CODES
        )
        return permanent, _answer(code, error.smtp_error)
    if isinstance(error, ValueError):  # an address Django cannot put on the envelope
        return True, f"Not sendable: {error}"
    if isinstance(error, TimeoutError):
        return False, "The SMTP server did not answer in time."
    if isinstance(error, smtplib.SMTPException):  # disconnected, STARTTLS not offered …
        return False, f"SMTP error: {error}"
    if isinstance(error, OSError):
        return False, f"Cannot reach the SMTP server: {error.strerror or error}"
    return False, f"{type(error).__name__}: {error}"


def unreachable_server(error: BaseException) -> bool:
    """Whether the server itself is out of reach (so its other mails need not try now), as
    opposed to an answer about this one mail. smtplib's errors are OSErrors too."""
    if isinstance(error, smtplib.SMTPConnectError | smtplib.SMTPServerDisconnected):
        return True
    return isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: 1, 2, 4, 8 … minutes, at most an hour."""
    return core_backoff.backoff(attempts, first=BACKOFF_FIRST, maximum=BACKOFF_MAX)


def retry_span(attempts: int) -> timedelta:
    """How long `attempts` failed tries have waited in all, by the backoff schedule."""
    return core_backoff.total_backoff(attempts, first=BACKOFF_FIRST, maximum=BACKOFF_MAX)


def claim(outbound_id: int, *, now: datetime) -> bool:
    """Take a due queued mail for this worker: one conditional UPDATE, one winner."""
    updated = OutboundMail.objects.filter(
        pk=outbound_id, state=OutboundMail.State.QUEUED, next_attempt_at__lte=now
    ).update(next_attempt_at=now + LEASE, attempts=F("attempts") + 1)
    return updated == 1


def _record_failure(outbound: OutboundMail, *, permanent: bool, answer: str, now: datetime) -> str:
    answer = answer[:4000]
    if permanent:
        state, next_at, error = OutboundMail.State.FAILED, now, answer
    elif retry_span(outbound.attempts) >= MAX_RETRY_SPAN:
        state, next_at = OutboundMail.State.FAILED, now
        error = f"Gave up after {outbound.attempts} attempts over three days. Last answer: {answer}"
    else:
        state, next_at, error = (
            OutboundMail.State.QUEUED,
            now + backoff(outbound.attempts),
            answer,
        )
    OutboundMail.objects.filter(pk=outbound.pk, state=OutboundMail.State.QUEUED).update(
        state=state, next_attempt_at=next_at, last_error=error
    )
    return state


class ServerDown(Exception):
    """The SMTP server could not be reached; the mail stays queued."""


def send(outbound_id: int, *, now: datetime) -> str:
    """Send one due queued mail; return its state afterwards ("skipped" if not ours to send)."""
    return _send(outbound_id, now=now)[0]


def _send(outbound_id: int, *, now: datetime) -> tuple[str, bool]:
    """(state, whether the server was unreachable)."""
    if not claim(outbound_id, now=now):
        return "skipped", False
    outbound = OutboundMail.objects.select_related("mailbox", "ticket__requester", "message").get(
        pk=outbound_id
    )
    try:
        note = _deliver(outbound.mailbox, build_email(outbound))
    except Exception as error:  # nothing may lose the mail: it is queued again or failed
        permanent, answer = classify(error)
        unreachable = unreachable_server(error)
        if not isinstance(error, smtplib.SMTPException | OSError | ValueError):
            logger.exception("Sending outbound mail %s failed", outbound_id)
        else:
            logger.warning("Sending outbound mail %s: %s", outbound_id, answer)
        return _record_failure(outbound, permanent=permanent, answer=answer, now=now), unreachable
    OutboundMail.objects.filter(pk=outbound.pk, state=OutboundMail.State.QUEUED).update(
        state=OutboundMail.State.SENT, sent_at=now, next_attempt_at=now, last_error=note
    )
    return OutboundMail.State.SENT, False


def send_due(*, now: datetime, limit: int = SEND_BATCH) -> int:
    """Send every queued mail that is due; return how many went out. Once a server cannot be
    reached, the rest of its mail waits for the next run instead of each timing out."""
    due = (
        OutboundMail.objects.filter(state=OutboundMail.State.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", "mailbox__smtp_host", "mailbox__smtp_port")[:limit]
    )
    down: set[tuple[str, int]] = set()
    sent = 0
    for outbound_id, host, port in list(due):
        server = (host or "", port if host else 0)  # no mailbox, or none of its own: the site's
        if server in down:
            continue
        state, unreachable = _send(outbound_id, now=now)
        if unreachable:
            down.add(server)
        sent += state == OutboundMail.State.SENT
    return sent


# An agent's retry, bounces


def retry(outbound: OutboundMail, *, actor: User, now: datetime) -> None:
    """Queue a failed or bounced mail again, to be sent now: agents who may change the ticket,
    or for a mail about no one ticket (a digest), admins."""
    if outbound.ticket is None:
        permissions.check_administer(actor)
    else:
        permissions.check_change_ticket(actor, outbound.ticket)
    with transaction.atomic():
        updated = OutboundMail.objects.filter(
            pk=outbound.pk, state__in=[OutboundMail.State.FAILED, OutboundMail.State.BOUNCED]
        ).update(
            state=OutboundMail.State.QUEUED,
            attempts=0,
            next_attempt_at=now,
            last_error="",
            sent_at=None,
        )
        if not updated:
            raise IllegalTransition(
                "This mail has not failed or bounced; there is nothing to retry."
            )
        transaction.on_commit(partial(_enqueue_send, outbound.pk), robust=True)
    outbound.refresh_from_db()


def mark_bounced(outbound: OutboundMail, bounce: parsing.Bounce, *, now: datetime) -> None:
    """A delivery report for our mail: state bounced with the remote answer, and a line in the
    ticket's timeline (a mail about no one ticket logs a warning instead). A "delayed" report is
    only noted: the remote server is still trying."""
    delayed = (bounce.action or "").startswith("delayed") or (bounce.status or "").startswith("4")
    diagnostic = " ".join(bounce.diagnostic.split())
    answer = " ".join(part for part in (bounce.status, diagnostic) if part) or "no reason given"
    recipient = bounce.recipient or ", ".join(outbound.to)
    with transaction.atomic():
        current = OutboundMail.objects.select_for_update().get(pk=outbound.pk)
        if delayed:
            if current.state != OutboundMail.State.SENT:
                return
            error = f"Delayed, the receiving server is still trying: {answer}"
            state = current.state
        else:
            error, state = answer[:4000], OutboundMail.State.BOUNCED
        if current.state == state and current.last_error == error:
            return  # the same report twice
        OutboundMail.objects.filter(pk=outbound.pk).update(state=state, last_error=error)
        if current.ticket is None:  # a digest: no timeline to write in
            logger.warning("%s mail %s to %s: %s", current.kind, current.pk, recipient, error)
        else:
            record_system_event(
                current.ticket,
                EventKind.MAIL_BOUNCED,
                by=MAIL_DELIVERY,
                at=now,
                outbound_id=outbound.pk,
                message_id=outbound.message_id,
                automatic=outbound.automatic,
                recipient=recipient,
                status=bounce.status or "",
                diagnostic=diagnostic[:500],
                delayed=delayed,
            )
    outbound.refresh_from_db()
