"""`patron mail listen|pipe|poll|retry-failed`: the ways mail comes in (docs/email.md)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Literal

from patron.cli.common import EX_TEMPFAIL, EXIT_FAILED, EXIT_OK, fail, out
from patron.core import clock

if TYPE_CHECKING:
    from patron.mail.models import Mailbox


def _mailbox(address: str) -> Mailbox | None:
    from patron.mail.models import Mailbox

    found = Mailbox.objects.filter(address__iexact=address.strip()).first()
    if found is None:
        known = ", ".join(Mailbox.objects.values_list("address", flat=True)) or "none yet"
        fail(f"there is no mailbox {address.strip()} (mailboxes: {known}).")
    return found


def run_mail_listen(args: argparse.Namespace) -> int:
    from patron.mail import inbound, listener, services

    protocol: Literal["smtp", "lmtp"] = "lmtp" if args.lmtp else "smtp"
    handler = listener.MailHandler(
        store=inbound.listener_store,
        accepts=inbound.listener_accepts,
        max_bytes=services.max_raw_bytes(),
    )
    shown_host = f"[{args.host}]" if ":" in args.host else args.host

    def ready(port: int) -> None:
        out.print(
            f"Listening for {protocol.upper()} on {shown_host}:{port} "
            f"(messages up to {handler.max_bytes // (1024 * 1024)} MB; Ctrl-C stops it)",
            markup=False,
            highlight=False,
        )

    try:
        listener.serve(
            args.host,
            args.port,
            protocol=protocol,
            handler=handler,
            ready=ready,
            hostname=args.hostname,
        )
    except OSError as error:
        fail(f"cannot listen on {shown_host}:{args.port}: {error.strerror or error}.")
        return EXIT_FAILED
    out.print("Stopped.")
    return EXIT_OK


def run_mail_pipe(args: argparse.Namespace) -> int:
    """Exit 0 stored, 75 try again later (database down, no such mailbox), 65 never (too big,
    empty): the statuses Postfix and Exim act on; one line on stderr says why."""
    import logging

    from patron.mail import inbound, pipe, services

    # Only the one line below goes to stderr, which the MTA quotes in its log or bounce.
    logging.getLogger().setLevel(logging.ERROR)
    try:
        limit = services.max_raw_bytes()
    except Exception as error:
        fail(f"mail pipe: temporary failure, the message was not stored ({error}); retry later")
        return EX_TEMPFAIL
    return pipe.pipe(sys.stdin.buffer, store=inbound.PipeStore(args.mailbox), max_bytes=limit)


def run_mail_poll(args: argparse.Namespace) -> int:
    from patron.mail import inbound
    from patron.mail.models import Mailbox

    if args.mailbox:
        found = _mailbox(args.mailbox)
        if found is None:
            return EXIT_FAILED
        if found.inbound != Mailbox.Inbound.IMAP or not found.imap_host:
            fail(f"{found.address} does not receive its mail by IMAP; nothing to poll.")
            return EXIT_FAILED
        mailboxes = [found]
    else:
        mailboxes = inbound.imap_mailboxes()
        if not mailboxes:
            out.print("No active IMAP mailbox; add one under Settings → Email.")
            return EXIT_OK
    failed = 0
    for mailbox in mailboxes:
        with out.status(f"Polling {mailbox.address}…"):
            summary = inbound.poll_mailbox(mailbox, now=clock.now())
        if summary.ok:
            out.print(str(summary), markup=False, highlight=False)
        else:
            failed += 1
            fail(str(summary))
    return EXIT_FAILED if failed else EXIT_OK


def run_mail_retry_failed(args: argparse.Namespace) -> int:
    from patron.mail import inbound

    mailboxes = None
    if args.mailbox:
        found = _mailbox(args.mailbox)
        if found is None:
            return EXIT_FAILED
        mailboxes = [found]
    count = inbound.retry_failed(mailboxes)
    out.print(f"Queued {count} failed mail{'' if count == 1 else 's'} for processing again.")
    return EXIT_OK
