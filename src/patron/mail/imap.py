"""IMAP polling: copy new mail out of a mailbox without ever losing a message.

The mailbox stays the source of truth until Patron holds the raw bytes: a message is marked
`\\Seen` (or moved to `move_to`) only after `store` — which commits the bytes — has returned.
If `store` raises, the poll stops and that message and every later one stay untouched on the
server, so the next poll fetches them again.

Progress is tracked by UID (`uidvalidity`, `last_uid`), not by the `\\Seen` flag, so a person
reading the mailbox in a webmail does not hide mail from Patron. When the server's UIDVALIDITY
changes (the folder was recreated or the server migrated), UIDs mean nothing any more and the
poll starts again from UID 0. Refetching is safe: the store is idempotent (Message-ID per
mailbox, then the SHA-256 of the raw bytes), so a message seen twice is stored once.

Messages bigger than `max_bytes` are not downloaded: they stay on the server, unflagged, and are
listed in `PollResult.too_large` for the caller to show an admin (Zammad does the same); the
poll moves past them so the rest of the mail keeps flowing.
"""

from __future__ import annotations

import imaplib
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
# Bodies are fetched in groups of at most this many bytes, so a batch of big messages does not
# sit in memory at once.
FETCH_CHUNK_BYTES = 8 * 1024 * 1024


class MailboxUnavailable(Exception):
    """The mailbox cannot be reached or used; the message is one sentence without the password."""


class StoreFailed(Exception):
    """`store` raised for message `uid`; `result` is the progress made before it (save it).

    The original exception is chained as `__cause__`.
    """

    def __init__(self, uid: int, result: PollResult) -> None:
        super().__init__(
            f"Storing message UID {uid} failed; it stays on the server for the next poll."
        )
        self.uid = uid
        self.result = result


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    security: Literal["tls", "starttls", "none"]
    folder: str = "INBOX"
    move_to: str | None = None  # else the message is flagged \Seen


@dataclass(frozen=True)
class Fetched:
    uid: int
    raw: bytes
    internal_date: datetime | None  # aware, UTC


@dataclass(frozen=True)
class TooLarge:
    uid: int
    size: int


@dataclass(frozen=True)
class PollResult:
    uidvalidity: int
    last_uid: int  # every UID up to this one is stored (or reported too large)
    stored: int = 0
    too_large: tuple[TooLarge, ...] = ()
    restarted: bool = False  # UIDVALIDITY changed, so the poll started again from UID 0

    @property
    def skipped_too_large(self) -> tuple[int, ...]:
        return tuple(t.uid for t in self.too_large)


def _reason(account: ImapAccount, doing: str, error: BaseException) -> str:
    first = error.args[0] if len(error.args) == 1 else None
    if isinstance(first, bytes):  # imapclient passes the server's words as bytes
        detail = first.decode(errors="replace")
    else:
        detail = str(error) or type(error).__name__
    detail = " ".join(detail.split())
    if account.password:
        detail = detail.replace(account.password, "***")
    detail = detail.strip().rstrip(".")
    return f"Could not {doing} {account.username} on {account.host}:{account.port}: {detail}."


@contextmanager
def _translate(account: ImapAccount, doing: str) -> Iterator[None]:
    """Turn network and protocol errors into MailboxUnavailable, with a sentence and no secret."""
    try:
        yield
    except MailboxUnavailable:
        raise
    except (OSError, imaplib.IMAP4.error, IMAPClientError, ssl.SSLError, EOFError) as error:
        raise MailboxUnavailable(_reason(account, doing, error)) from None


def connect(
    account: ImapAccount, *, timeout: float = 30, ssl_context: ssl.SSLContext | None = None
) -> IMAPClient:
    """Open, secure and log in; raise MailboxUnavailable with a readable reason."""
    context = ssl_context or ssl.create_default_context()
    with _translate(account, "connect to the mailbox of"):
        client = IMAPClient(
            account.host,
            port=account.port,
            ssl=account.security == "tls",
            ssl_context=context if account.security == "tls" else None,
            timeout=timeout,
            use_uid=True,
        )
    try:
        with _translate(account, "secure the connection for"):
            if account.security == "starttls":
                client.starttls(context)
        with _translate(account, "log in as"):
            client.login(account.username, account.password)
    except MailboxUnavailable:
        _close(client)
        raise
    return client


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:
        try:
            client.shutdown()
        except Exception:
            log.debug("closing the IMAP connection failed", exc_info=True)


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    moment: datetime = value
    if moment.tzinfo is None:  # imapclient gives local naive time when normalise_times is on
        moment = moment.astimezone()
    return moment.astimezone(UTC)


def poll(
    account: ImapAccount,
    *,
    uidvalidity: int | None,
    last_uid: int,
    store: Callable[[Fetched], None],
    batch: int = 50,
    timeout: float = 30,
    max_bytes: int = DEFAULT_MAX_BYTES,
    ssl_context: ssl.SSLContext | None = None,
) -> PollResult:
    """Store every message with a UID above `last_uid`, then mark or move it.

    Raises MailboxUnavailable when the server cannot be used (nothing is lost: what was not
    marked is fetched again next time) and StoreFailed when `store` raised (with the progress
    made before it, which the caller should save along with the error).
    """
    client = connect(account, timeout=timeout, ssl_context=ssl_context)
    client.normalise_times = False  # keep INTERNALDATE's zone; converted to UTC below
    try:
        with _translate(account, f"open folder {account.folder!r} of"):
            selected = client.select_folder(account.folder)
            if account.move_to and not client.folder_exists(account.move_to):
                raise MailboxUnavailable(
                    f"The folder {account.move_to!r} to move mail to does not exist in the "
                    f"mailbox of {account.username} on {account.host}:{account.port}."
                )
        current = int(selected[b"UIDVALIDITY"])
        restarted = uidvalidity is not None and uidvalidity != current
        if restarted:
            log.warning(
                "UIDVALIDITY of %s/%s changed (%s -> %s): fetching the whole folder again",
                account.username,
                account.folder,
                uidvalidity,
                current,
            )
            last_uid = 0
        with _translate(account, "search the mailbox of"):
            # "n:*" always matches the highest UID, even below n: filter again here.
            uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
        can_move = bool(account.move_to) and client.has_capability("MOVE")
        stored = 0
        too_large: list[TooLarge] = []
        for start in range(0, len(uids), batch):
            chunk = uids[start : start + batch]
            with _translate(account, "read message sizes from"):
                meta = client.fetch(chunk, ["RFC822.SIZE", "INTERNALDATE"])
            wanted: list[int] = []
            for uid in chunk:
                info = meta.get(uid)
                if info is None:  # expunged meanwhile by someone else
                    continue
                size = int(info.get(b"RFC822.SIZE", 0))
                if size > max_bytes:
                    log.warning(
                        "message UID %s in %s/%s is %s bytes, over the %s limit: left on the "
                        "server and reported",
                        uid,
                        account.username,
                        account.folder,
                        size,
                        max_bytes,
                    )
                    too_large.append(TooLarge(uid, size))
                else:
                    wanted.append(uid)
            for group in _groups(wanted, meta):
                with _translate(account, "fetch mail from"):
                    # BODY.PEEK[] leaves \Seen alone; plain RFC822 would set it before we store.
                    bodies = client.fetch(group, ["BODY.PEEK[]"])
                for uid in group:
                    data = bodies.get(uid)
                    if data is None:
                        continue
                    raw = data[b"BODY[]"]
                    fetched = Fetched(uid, bytes(raw), _utc(meta[uid].get(b"INTERNALDATE")))
                    try:
                        store(fetched)
                    except Exception as error:
                        result = PollResult(
                            current, _progress(last_uid, uid), stored, tuple(too_large), restarted
                        )
                        raise StoreFailed(uid, result) from error
                    with _translate(account, "mark a stored message in"):
                        _done(client, account, uid, can_move)
                    stored += 1
                    last_uid = max(last_uid, uid)
            # Everything in this chunk is handled, oversize ones included.
            last_uid = max([last_uid, *chunk])
        return PollResult(current, last_uid, stored, tuple(too_large), restarted)
    finally:
        _close(client)


def _progress(last_uid: int, failed_uid: int) -> int:
    """The last UID safe to remember when `failed_uid` could not be stored.

    UIDs are handled in ascending order, so every UID below the failed one is done (stored,
    reported too large, or expunged by someone else meanwhile).
    """
    return max(last_uid, failed_uid - 1)


def _groups(uids: Sequence[int], meta: dict[int, Any]) -> Iterator[list[int]]:
    group: list[int] = []
    size = 0
    for uid in uids:
        this = int(meta[uid].get(b"RFC822.SIZE", 0))
        if group and size + this > FETCH_CHUNK_BYTES:
            yield group
            group, size = [], 0
        group.append(uid)
        size += this
    if group:
        yield group


def _done(client: IMAPClient, account: ImapAccount, uid: int, can_move: bool) -> None:
    """Mark one stored message: move it (MOVE, or COPY + \\Deleted + EXPUNGE) or flag it \\Seen."""
    if not account.move_to:
        client.add_flags([uid], [b"\\Seen"], silent=True)
        return
    if can_move:
        client.move([uid], account.move_to)
        return
    client.copy([uid], account.move_to)
    client.add_flags([uid], [b"\\Deleted"], silent=True)
    if client.has_capability("UIDPLUS"):
        client.uid_expunge([uid])  # only this message, not others someone marked \Deleted
    else:
        client.expunge()


def idle_once(
    account: ImapAccount,
    *,
    seconds: float,
    last_uid: int | None = None,
    timeout: float = 30,
    interval: float = 5,
    ssl_context: ssl.SSLContext | None = None,
    stop: threading.Event | None = None,
) -> bool:
    """Wait up to `seconds` for new mail in the folder; True as soon as something arrived.

    Uses IDLE when the server offers it, else NOOP every `interval` seconds. Mail that arrived
    between the last poll and this call is caught too when `last_uid` is given (the folder is
    searched for UIDs above it first). False means "nothing yet": poll again anyway later. A
    set `stop` ends the wait within a second (False, and the IDLE is ended with DONE).
    """
    deadline = time.monotonic() + seconds
    stopping = stop if stop is not None else threading.Event()
    client = connect(account, timeout=timeout, ssl_context=ssl_context)
    try:
        with _translate(account, f"open folder {account.folder!r} of"):
            client.select_folder(account.folder, readonly=True)
            if last_uid is not None:
                found = client.search(["UID", f"{last_uid + 1}:*"])
                if any(u > last_uid for u in found):
                    return True
        with _translate(account, "wait for mail in the mailbox of"):
            if client.has_capability("IDLE"):
                log.debug("waiting for mail in %s/%s with IDLE", account.username, account.folder)
                return _idle(client, deadline, stopping)
            log.debug(
                "%s offers no IDLE: checking %s/%s with NOOP every %s s",
                account.host,
                account.username,
                account.folder,
                interval,
            )
            while (left := deadline - time.monotonic()) > 0:
                if stopping.wait(min(interval, left)):
                    return False
                _, responses = client.noop()
                if _arrived(responses):
                    return True
            return False
    finally:
        _close(client)


def _idle(client: IMAPClient, deadline: float, stop: threading.Event) -> bool:
    # RFC 2177: re-issue IDLE at least every 29 minutes; we never wait that long in one call.
    client.idle()
    arrived = False
    try:
        # The server's answers wake us at once; `stop` is looked at every second.
        while not arrived and not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            arrived = _arrived(client.idle_check(timeout=min(left, 1)))
    finally:
        client.idle_done()
    return arrived


def _arrived(responses: Sequence[Any]) -> bool:
    return any(
        isinstance(r, tuple) and len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT") for r in responses
    )


__all__ = [
    "Fetched",
    "ImapAccount",
    "MailboxUnavailable",
    "PollResult",
    "StoreFailed",
    "TooLarge",
    "connect",
    "idle_once",
    "poll",
]
