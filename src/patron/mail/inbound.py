"""The glue between the three ways mail comes in and `services.receive_raw`.

Each transport module (`imap`, `listener`, `pipe`) knows its protocol and nothing of Patron's
models; each calls a `store` callback once per message and acknowledges the message (IMAP flag,
SMTP 250, exit status 0) only after that callback returned. The callbacks are here: they choose
the mailbox, call `receive_raw` (which commits the bytes), and raise when they cannot, so the
transport leaves the message with its sender.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db import close_old_connections, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.tasks import task

from patron.core import clock
from patron.mail import imap, services
from patron.mail.listener import Envelope
from patron.mail.models import InboundMail, Mailbox

logger = logging.getLogger(__name__)

# Starts the note about oversize mail left on the server. Later polls move past those messages,
# so the note stays in `imap_error` until an admin saves the mailbox (or newer ones replace it).
TOO_BIG_MARK = "Too big to fetch:"

# Settings that name a different folder: UIDs remembered for the old one mean nothing there.
IMAP_FOLDER_FIELDS = ("imap_host", "imap_port", "imap_username", "imap_folder")


def _fresh_connection() -> None:
    """Drop a database connection that died or aged out (a listener runs for weeks); never
    inside a transaction, where closing would break the caller's work."""
    if not transaction.get_connection().in_atomic_block:
        close_old_connections()


class NoMailbox(Exception):
    """No active mailbox takes this mail; the message is one sentence for an MTA's log."""


@dataclass(frozen=True)
class PollSummary:
    """What one poll of one mailbox did, for the CLI, the admin page and the logs. `error` says
    why the poll failed; oversize mail left on the server is counted, not an error."""

    mailbox: str
    stored: int = 0
    last_uid: int = 0
    too_large: int = 0
    restarted: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def __str__(self) -> str:
        if self.error:
            return f"{self.mailbox}: {self.error}"
        text = f"{self.mailbox}: {self.stored} new message{'' if self.stored == 1 else 's'}"
        text += f" (last UID {self.last_uid})"
        if self.restarted:
            text += "; the folder's UIDVALIDITY changed, so it was read again from the start"
        if self.too_large:
            text += f"; {self.too_large} too big, left on the server"
        return text + "."


# --- IMAP ----------------------------------------------------------------------------------------


def account_of(mailbox: Mailbox) -> imap.ImapAccount:
    """The mailbox's IMAP settings as the transport wants them."""
    security = mailbox.imap_security if mailbox.imap_security in ("tls", "starttls") else "none"
    return imap.ImapAccount(
        host=mailbox.imap_host,
        port=mailbox.imap_port,
        username=mailbox.imap_username,
        password=mailbox.imap_password,
        security=security,  # type: ignore[arg-type]
        folder=mailbox.imap_folder or "INBOX",
        move_to=mailbox.imap_move_to or None,
    )


def _too_large_sentence(mailbox: Mailbox, result: imap.PollResult, limit: int) -> str:
    uids = ", ".join(str(t.uid) for t in result.too_large[:10])
    more = f" and {len(result.too_large) - 10} more" if len(result.too_large) > 10 else ""
    count = len(result.too_large)
    return (
        f"{TOO_BIG_MARK} {count} message{'' if count == 1 else 's'} in "
        f"{mailbox.imap_folder or 'INBOX'} "
        f"{'is' if count == 1 else 'are'} bigger than the {limit // (1024 * 1024)} MB limit and "
        f"stayed on the server, unread (UID {uids}{more}); forward them in smaller parts or "
        "raise PATRON_MAX_ATTACHMENT_MB."
    )


def _save_progress(
    mailbox: Mailbox, result: imap.PollResult | None, *, now: datetime, error: str
) -> None:
    """Remember how far the poll got, by UPDATE, so an admin's edit made meanwhile stays.

    The last UID only moves forward within one UIDVALIDITY: a slower poll that overlapped a
    faster one cannot take it back (it would only cause a harmless refetch, but still)."""
    changes: dict[str, object] = {"imap_checked_at": now, "imap_error": error}
    rows = Mailbox.objects.filter(pk=mailbox.pk)
    if result is not None:
        same_folder = rows.filter(imap_uidvalidity=result.uidvalidity)
        if result.restarted or not same_folder.exists():
            changes |= {"imap_uidvalidity": result.uidvalidity, "imap_last_uid": result.last_uid}
        else:
            changes["imap_last_uid"] = Greatest(F("imap_last_uid"), result.last_uid)
    # Settings changed while we polled (another server or folder): our UIDs are not its UIDs.
    unchanged = Q(**{field: getattr(mailbox, field) for field in IMAP_FOLDER_FIELDS})
    if rows.filter(unchanged).update(**changes) == 0:
        rows.update(imap_checked_at=now, imap_error=error)
    mailbox.refresh_from_db(
        fields=["imap_uidvalidity", "imap_last_uid", "imap_checked_at", "imap_error"]
    )


def poll_mailbox(
    mailbox: Mailbox, *, now: datetime, timeout: float = 30, max_bytes: int | None = None
) -> PollSummary:
    """Fetch every new message of one IMAP mailbox into Patron; never raises for the server's
    or the database's failures: they are saved in `imap_error` and returned as the summary.

    Each message is committed by `receive_raw` before the transport flags or moves it; its
    arrival time is the server's INTERNALDATE (when the mailbox got it), so a poll that runs
    late does not change threading.
    """
    limit = max_bytes if max_bytes is not None else services.max_raw_bytes()

    def store(fetched: imap.Fetched) -> None:
        services.receive_raw(
            fetched.raw,
            mailbox=mailbox,
            source=InboundMail.Source.IMAP,
            received_at=fetched.internal_date or now,
            envelope_to=[mailbox.address],
        )

    earlier = mailbox.imap_error
    kept_note = earlier[earlier.index(TOO_BIG_MARK) :] if TOO_BIG_MARK in earlier else ""
    result: imap.PollResult | None = None
    try:
        result = imap.poll(
            account_of(mailbox),
            uidvalidity=mailbox.imap_uidvalidity,
            last_uid=mailbox.imap_last_uid,
            store=store,
            timeout=timeout,
            max_bytes=limit,
        )
    except imap.MailboxUnavailable as unavailable:
        error = str(unavailable)
        logger.warning("IMAP poll of %s: %s", mailbox.address, error)
    except imap.StoreFailed as failed:
        result = failed.result
        cause = failed.__cause__
        detail = " ".join(str(cause).split()) if cause is not None else ""
        error = str(failed) if not detail else f"{str(failed).rstrip('.')} ({detail[:300]})."
        logger.warning("IMAP poll of %s: %s", mailbox.address, error, exc_info=cause)
    else:
        error = ""
    if result is not None and result.too_large:
        kept_note = _too_large_sentence(mailbox, result, limit)
        logger.warning("IMAP poll of %s: %s", mailbox.address, kept_note)
    try:
        _save_progress(mailbox, result, now=now, error=f"{error} {kept_note}".strip())
    except Exception:  # the database is down: the next poll starts from the old UID, no loss
        logger.exception("could not save the IMAP progress of %s", mailbox.address)
        error = error or "Could not save the progress of the poll (is the database up?)."
    return PollSummary(
        mailbox=mailbox.address,
        stored=result.stored if result is not None else 0,
        last_uid=result.last_uid if result is not None else mailbox.imap_last_uid,
        too_large=len(result.too_large) if result is not None else 0,
        restarted=result.restarted if result is not None else False,
        error=error,
    )


def imap_mailboxes() -> list[Mailbox]:
    """Every active mailbox whose mail arrives by IMAP and that says where to fetch it from."""
    return list(
        Mailbox.objects.filter(active=True, inbound=Mailbox.Inbound.IMAP)
        .exclude(imap_host="")
        .order_by("pk")
    )


def check_connection(mailbox: Mailbox, *, timeout: float = 15) -> str:
    """Log in and open the folder(s), touching no message; return a sentence saying what was
    found. Raises imap.MailboxUnavailable with the one-sentence reason."""
    account = account_of(mailbox)
    client = imap.connect(account, timeout=timeout)
    try:
        try:
            status = client.folder_status(account.folder, [b"MESSAGES", b"UNSEEN"])
            if account.move_to and not client.folder_exists(account.move_to):
                raise imap.MailboxUnavailable(
                    f"Logged in, but the folder {account.move_to!r} to move mail to does not "
                    f"exist in the mailbox of {account.username} on {account.host}."
                )
        except imap.MailboxUnavailable:
            raise
        except Exception as error:
            raise imap.MailboxUnavailable(
                f"Logged in as {account.username} on {account.host}:{account.port}, but could "
                f"not open the folder {account.folder!r}: {' '.join(str(error).split())}."
            ) from None
    finally:
        try:
            client.logout()
        except Exception:
            logger.debug("IMAP logout after the connection test failed", exc_info=True)
    messages = int(status.get(b"MESSAGES", 0))
    unseen = int(status.get(b"UNSEEN", 0))
    return (
        f"Connected to {account.host}:{account.port} as {account.username}: the folder "
        f"{account.folder!r} holds {messages} message{'' if messages == 1 else 's'}, "
        f"{unseen} unread."
    )


@task()
def poll_one_mailbox(mailbox_id: int) -> str:
    """Poll one mailbox now; a failure is recorded on the mailbox, never raised."""
    _fresh_connection()
    mailbox = Mailbox.objects.filter(
        pk=mailbox_id, active=True, inbound=Mailbox.Inbound.IMAP
    ).first()
    if mailbox is None:
        return "not an active IMAP mailbox"
    try:
        return str(poll_mailbox(mailbox, now=clock.now()))
    except Exception as error:  # a bug in one mailbox's poll must not stop the next run
        logger.exception("polling %s failed", mailbox.address)
        return f"{mailbox.address}: {type(error).__name__}: {error}"


@task()
def poll_mailboxes() -> int:
    """The periodic job: one poll task per active IMAP mailbox, so a slow or broken mailbox
    neither delays nor stops the others. Returns how many were enqueued."""
    mailboxes = imap_mailboxes()
    for mailbox in mailboxes:
        # After the scheduler's claim commits: the immediate backend runs the poll right here,
        # and `receive_raw` must commit each message by itself, outside any transaction.
        transaction.on_commit(partial(poll_one_mailbox.enqueue, mailbox.pk), robust=True)
    return len(mailboxes)


# --- SMTP/LMTP listener ---------------------------------------------------------------------


def listener_mailbox(address: str) -> Mailbox | None:
    """The active mailbox a recipient belongs to, if its mail is meant to come by the listener."""
    mailbox = services.mailbox_for([address])
    if mailbox is None or mailbox.inbound != Mailbox.Inbound.LISTENER:
        return None
    return mailbox


def listener_accepts(address: str) -> bool:
    """RCPT TO: yes for an address of an active mailbox set to "SMTP/LMTP listener"."""
    _fresh_connection()
    return listener_mailbox(address) is not None


def listener_store(raw: bytes, envelope: Envelope) -> None:
    """DATA: store the bytes once per mailbox among the recipients, committed, before the 250.

    Raising makes the listener answer 451 and the sending MTA try again later; the retry is
    stored once (same bytes, same mailbox)."""
    _fresh_connection()
    by_mailbox: dict[int, tuple[Mailbox, list[str]]] = {}
    for rcpt in envelope.rcpt_tos:
        mailbox = listener_mailbox(rcpt)
        if mailbox is not None:
            by_mailbox.setdefault(mailbox.pk, (mailbox, []))[1].append(rcpt)
    if not by_mailbox:
        raise NoMailbox(f"No active listener mailbox for {', '.join(envelope.rcpt_tos)}.")
    source = InboundMail.Source.LMTP if envelope.protocol == "lmtp" else InboundMail.Source.SMTP
    received_at = clock.now()
    for mailbox, recipients in by_mailbox.values():
        services.receive_raw(
            raw,
            mailbox=mailbox,
            source=source,
            received_at=received_at,
            envelope_from=envelope.mail_from,
            envelope_to=recipients,
        )


# --- pipe ------------------------------------------------------------------------------------


def pipe_mailbox(address: str | None, envelope: Envelope) -> Mailbox:
    """`--mailbox ADDRESS` when given, else the envelope recipient Postfix put in RECIPIENT."""
    if address:
        mailbox = Mailbox.objects.filter(address__iexact=address.strip(), active=True).first()
        if mailbox is None:
            raise NoMailbox(f"There is no active mailbox {address.strip()} in Patron.")
        return mailbox
    if not envelope.rcpt_tos:
        raise NoMailbox(
            "No recipient: pass --mailbox ADDRESS, or let the MTA set RECIPIENT "
            "(Postfix local and pipe do)."
        )
    mailbox = services.mailbox_for(envelope.rcpt_tos)
    if mailbox is None:
        raise NoMailbox(f"No active mailbox in Patron for {', '.join(envelope.rcpt_tos)}.")
    return mailbox


class PipeStore:
    """The pipe's `store`: find the mailbox, then `receive_raw` with source pipe."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self.stored: InboundMail | None = None

    def __call__(self, raw: bytes, envelope: Envelope) -> None:
        mailbox = pipe_mailbox(self.address, envelope)
        self.stored = services.receive_raw(
            raw,
            mailbox=mailbox,
            source=InboundMail.Source.PIPE,
            received_at=clock.now(),
            envelope_from=envelope.mail_from,
            envelope_to=list(envelope.rcpt_tos) or [mailbox.address],
        )


def retry_failed(mailboxes: Sequence[Mailbox] | None = None) -> int:
    """Queue every failed mail (of these mailboxes) for processing again; how many."""
    failed = InboundMail.objects.filter(state=InboundMail.State.FAILED)
    if mailboxes is not None:
        failed = failed.filter(mailbox__in=list(mailboxes))
    count = 0
    for mail in failed.only("pk", "state").iterator():
        services.retry(mail)
        count += 1
    return count
