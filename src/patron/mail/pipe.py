"""The core of `patron mail pipe`: one message on stdin from an MTA (Postfix `mailbox_command`,
an alias `|patron mail pipe`, RT's mailgate style), stored before anything parses it.

The exit status is what the MTA acts on (sysexits.h): 0 delivered; 75 EX_TEMPFAIL keeps the
message in the MTA's queue and retries later (the database is down, `store` raised); 65
EX_DATAERR bounces it to the sender (empty input, or bigger than `max_bytes` — retrying would
never help). On failure one line goes to stderr, which Postfix quotes in its log and bounce.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import BinaryIO, TextIO

from patron.mail.listener import Envelope

log = logging.getLogger(__name__)

EX_OK = 0
EX_DATAERR = 65
EX_TEMPFAIL = 75


def envelope_from_environment(environ: Mapping[str, str] | None = None) -> Envelope:
    """The envelope from the SENDER and RECIPIENT variables Postfix's local(8) sets (aliases,
    mailbox_command). pipe(8) sets none: pass ${sender} and ${original_recipient} as arguments
    through a wrapper that exports them (docs/email.md shows one)."""
    env = os.environ if environ is None else environ
    recipient = env.get("ORIGINAL_RECIPIENT") or env.get("RECIPIENT") or ""
    return Envelope(
        mail_from=env.get("SENDER", ""),
        rcpt_tos=(recipient,) if recipient else (),
        peer="pipe",
        protocol="pipe",
    )


def pipe(
    stream: BinaryIO,
    *,
    store: Callable[[bytes, Envelope], None],
    max_bytes: int,
    envelope: Envelope | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Read one message from `stream`, store it, and return the exit status for the MTA."""
    err = stderr if stderr is not None else sys.stderr
    try:
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:  # a raw stream may return less than asked before EOF
            chunk = stream.read(max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        raw = b"".join(chunks)
        too_big = len(raw) > max_bytes
        if too_big:
            # Drain the rest so the MTA does not see a broken pipe instead of our status.
            while stream.read(1024 * 1024):
                pass
    except OSError as error:
        print(f"patron mail pipe: could not read the message: {error}", file=err)
        return EX_TEMPFAIL
    if too_big:
        print(
            f"patron mail pipe: message too big for system (the limit is {max_bytes} bytes)",
            file=err,
        )
        return EX_DATAERR
    if not raw.strip():
        print("patron mail pipe: empty input, no message to store", file=err)
        return EX_DATAERR
    try:
        store(raw, envelope if envelope is not None else envelope_from_environment())
    except Exception as error:
        # The one line below is what the MTA logs and may quote in a bounce; the traceback is
        # for Patron's own log only.
        log.debug("storing a piped message failed", exc_info=True)
        reason = " ".join(str(error).split()) or type(error).__name__
        print(
            f"patron mail pipe: temporary failure, the message was not stored ({reason}); "
            "retry later",
            file=err,
        )
        return EX_TEMPFAIL
    return EX_OK
