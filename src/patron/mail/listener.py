"""The core of `patron mail listen`: an SMTP or LMTP server (aiosmtpd) that stores what it accepts.

A sender is told 250 only once `store` — which commits the raw bytes — has returned. Anything
else is refused while the sender still holds the message, so it is never silently lost:

- an unknown recipient is refused at RCPT (`550 5.1.1 Recipient rejected`);
- a message over `max_bytes` is refused (`552 5.3.4 Message too big for system`; SIZE is
  advertised, so a well-behaved client learns the limit before sending);
- a `store` that raises (database down …) answers `451 4.3.0 Temporary failure, please retry`,
  and the sending MTA retries later. `store` must therefore be idempotent (it is: Message-ID per
  mailbox, then SHA-256).

SMTP stores once per transaction, with every accepted recipient in the envelope. LMTP stores once
per accepted recipient and answers once per recipient after DATA (RFC 2033), so one failing
mailbox does not make the others' copies be sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from aiosmtpd.smtp import Envelope as SmtpEnvelope
from aiosmtpd.smtp import Session as SmtpSession

log = logging.getLogger(__name__)

REJECTED = "550 5.1.1 Recipient rejected"
TOO_BIG = "552 5.3.4 Message too big for system"
RETRY = "451 4.3.0 Temporary failure, please retry"
OK = "250 2.0.0 OK"


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    peer: str
    protocol: Literal["smtp", "lmtp", "pipe"]


class MailHandler:
    """aiosmtpd handler: `accepts(address)` decides RCPT, `store(raw, envelope)` keeps DATA.

    `store` is blocking (database work) and runs in a worker thread.
    """

    def __init__(
        self,
        *,
        store: Callable[[bytes, Envelope], None],
        accepts: Callable[[str], bool],
        max_bytes: int,
    ) -> None:
        self.store = store
        self.accepts = accepts
        self.max_bytes = max_bytes
        self.in_flight = 0  # stores running now; serve() waits for them on shutdown

    async def handle_RCPT(
        self,
        server: SMTP,
        session: SmtpSession,
        envelope: SmtpEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        loop = asyncio.get_running_loop()
        try:
            # `accepts` may ask the database which addresses are mailboxes.
            accepted = await loop.run_in_executor(None, self.accepts, address)
        except Exception:
            log.exception("checking recipient %r failed", address)
            return RETRY
        if not accepted:
            log.info("rejected recipient %r from %r", address, session.peer)
            return REJECTED
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: SmtpEnvelope) -> str:
        raw = envelope.original_content or b""
        if len(raw) > self.max_bytes:  # aiosmtpd counts with line endings; check the bytes too
            return TOO_BIG
        lmtp = isinstance(server, LMTP)
        peer = _peer(session.peer)
        mail_from = envelope.mail_from or ""
        if lmtp:
            replies = []
            for rcpt in envelope.rcpt_tos:
                replies.append(await self._store(raw, Envelope(mail_from, (rcpt,), peer, "lmtp")))
            return "\r\n".join(replies)  # one reply per accepted recipient
        return await self._store(raw, Envelope(mail_from, tuple(envelope.rcpt_tos), peer, "smtp"))

    async def _store(self, raw: bytes, envelope: Envelope) -> str:
        loop = asyncio.get_running_loop()
        self.in_flight += 1
        try:
            await loop.run_in_executor(None, self.store, raw, envelope)
        except Exception:
            log.exception(
                "storing a %s-byte message from %r for %s failed; the sender will retry",
                len(raw),
                envelope.mail_from,
                ", ".join(envelope.rcpt_tos),
            )
            return RETRY
        finally:
            self.in_flight -= 1
        return OK


def _peer(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "")


class PatronSMTP(SMTP):
    """aiosmtpd's SMTP with RFC 3463 wording for "too big" and room for long lines.

    Lines longer than RFC 5321's 1000 octets are accepted (broken senders exist, and the bytes
    are stored as they came) up to the size limit; aiosmtpd's default would answer 500 and the
    mail would bounce. A line longer than the whole limit is a too-big message.
    """

    _too_big = (
        "552 Error: Too much mail data",
        "552 Error: message size exceeds fixed maximum message size",
        "500 Line too long",
    )

    def __init__(self, handler: MailHandler, *, line_length_limit: int, **kwargs: Any) -> None:
        # Read by SMTP.__init__ for its stream reader's limit, so it must be set first.
        self.line_length_limit = line_length_limit
        super().__init__(handler, **kwargs)

    async def push(self, status: Any) -> None:
        if isinstance(status, str) and status.startswith(self._too_big):
            status = TOO_BIG
        await super().push(status)


class PatronLMTP(PatronSMTP, LMTP):
    pass


def make_server(
    handler: MailHandler, *, protocol: Literal["smtp", "lmtp"], hostname: str | None = None
) -> PatronSMTP:
    """One protocol instance per connection, as asyncio's create_server wants."""
    cls = PatronLMTP if protocol == "lmtp" else PatronSMTP
    return cls(
        handler,
        line_length_limit=max(SMTP.line_length_limit, handler.max_bytes + 2),
        data_size_limit=handler.max_bytes,
        hostname=hostname,
        enable_SMTPUTF8=True,
        decode_data=False,
        loop=asyncio.get_running_loop(),
    )


async def run(
    host: str,
    port: int,
    *,
    protocol: Literal["smtp", "lmtp"],
    handler: MailHandler,
    stop: asyncio.Event,
    ready: Callable[[int], None] | None = None,
    grace: float = 30,
    hostname: str | None = None,
) -> None:
    """Serve until `stop` is set; then refuse new connections and let running stores finish."""
    loop = asyncio.get_running_loop()
    connections: weakref.WeakSet[PatronSMTP] = weakref.WeakSet()

    def connection() -> PatronSMTP:
        smtp = make_server(handler, protocol=protocol, hostname=hostname)
        connections.add(smtp)
        return smtp

    server = await loop.create_server(connection, host, port)
    bound = server.sockets[0].getsockname()[1]
    log.info("listening for %s on %s:%s", protocol.upper(), host, bound)
    if ready is not None:
        ready(int(bound))
    try:
        await stop.wait()
    finally:
        server.close()
        deadline = loop.time() + grace
        while handler.in_flight and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if handler.in_flight:
            log.warning("%s stores still running at shutdown", handler.in_flight)
        for smtp in list(connections):  # idle clients would keep wait_closed() waiting
            if smtp.transport is not None:
                smtp.transport.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 5)
        log.info("stopped listening on %s:%s", host, bound)


def serve(
    host: str,
    port: int,
    *,
    protocol: Literal["smtp", "lmtp"],
    handler: MailHandler,
    ready: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    grace: float = 30,
    hostname: str | None = None,
) -> None:
    """Run the listener until SIGTERM/SIGINT (or `stop` is set, from another thread).

    On shutdown new connections are refused, stores under way get `grace` seconds to finish
    (their senders get their 250), and anything cut off is retried by its sender. `ready` is
    called with the bound port (useful with port 0).
    """

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stopping = asyncio.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stopping.set)
        watcher = None
        if stop is not None:

            async def watch() -> None:
                while not stop.is_set():
                    await asyncio.sleep(0.05)
                stopping.set()

            watcher = asyncio.create_task(watch())
        try:
            await run(
                host,
                port,
                protocol=protocol,
                handler=handler,
                stop=stopping,
                ready=ready,
                grace=grace,
                hostname=hostname,
            )
        finally:
            if watcher is not None:
                watcher.cancel()

    asyncio.run(main())


__all__ = ["Envelope", "MailHandler", "make_server", "run", "serve"]
