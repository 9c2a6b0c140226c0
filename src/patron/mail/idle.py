"""IMAP IDLE: new mail in seconds instead of at the next minute's poll (docs/email.md).

`IdleLoop` keeps one `Watcher` thread per active IMAP mailbox (the list is read again every
`refresh_seconds`, so a mailbox added, switched off or pointed elsewhere is followed). A watcher
goes round one road: fetch what is new with `inbound.poll_mailbox` — the poller's own road, so
each message is committed by `receive_raw` before it is flagged or moved — then wait on the
folder with `imap.idle_once`: IDLE, woken by the server's EXISTS or RECENT, re-issued every
`idle_seconds` (under the 29 minutes RFC 2177 allows), or NOOP every `noop_seconds` on a server
that does not offer IDLE. Any failure (the server down, a wrong password, the database) is
recorded on the mailbox as the poller records it, and the watcher tries again after the
backoff of `core.backoff`. The periodic `poll_mailboxes` job keeps running: it is the safety
net for whatever a watcher misses, and polls overlapping a watcher are safe (the store is
idempotent and progress only moves forward).
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.db import close_old_connections, connection

from patron.core import backoff, clock
from patron.mail import imap, inbound
from patron.mail.models import Mailbox

logger = logging.getLogger(__name__)

IDLE_SECONDS = 25 * 60  # one IDLE command, then a poll and a new one
NOOP_SECONDS = 15.0  # without IDLE: how often the open connection asks for news
REFRESH_SECONDS = 60.0  # how often the list of IMAP mailboxes is read again
RETRY_FIRST = timedelta(seconds=5)
RETRY_MAX = timedelta(minutes=5)
STOP_SECONDS = 10.0  # how long `stop` waits for the watchers to log out

# The settings a watcher's connection was opened with; when they change, it is replaced.
WATCHED_FIELDS = (*inbound.IMAP_FOLDER_FIELDS, "imap_password", "imap_security", "imap_move_to")


def _settings(mailbox: Mailbox) -> tuple[object, ...]:
    return tuple(getattr(mailbox, name) for name in WATCHED_FIELDS)


class Watcher(threading.Thread):
    """Fetch, wait for news, fetch again, for one mailbox until `stopping` is set."""

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        idle_seconds: float = IDLE_SECONDS,
        noop_seconds: float = NOOP_SECONDS,
        timeout: float = 30,
    ) -> None:
        super().__init__(name=f"imap-idle-{mailbox.address}", daemon=True)
        self.mailbox_id = mailbox.pk
        self.address = mailbox.address
        self.settings = _settings(mailbox)
        self.idle_seconds = idle_seconds
        self.noop_seconds = noop_seconds
        self.timeout = timeout
        self.stopping = threading.Event()
        self.failures = 0  # in a row; the wait before the next try grows with them

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    error = self.cycle()
                except Exception as bug:  # a bug or the database: try again later, never stop
                    logger.exception("IMAP IDLE of %s failed", self.address)
                    error = f"{type(bug).__name__}: {bug}"
                if not error:
                    self.failures = 0
                    continue
                self.failures += 1
                wait = backoff.backoff(self.failures, first=RETRY_FIRST, maximum=RETRY_MAX)
                logger.warning(
                    "IMAP IDLE of %s: %s Trying again in %d s.",
                    self.address,
                    error,
                    wait.total_seconds(),
                )
                self.stopping.wait(wait.total_seconds())
        finally:
            connection.close()  # this thread's own database connection

    def cycle(self) -> str:
        """Fetch what is new, then wait until more arrives; return why it failed, or ''."""
        close_old_connections()
        mailbox = (
            Mailbox.objects.filter(pk=self.mailbox_id, active=True, inbound=Mailbox.Inbound.IMAP)
            .exclude(imap_host="")
            .first()
        )
        if mailbox is None:  # switched off or to another way in: the loop lets it go
            self.stopping.set()
            return ""
        summary = inbound.poll_mailbox(mailbox, now=clock.now(), timeout=self.timeout)
        if not summary.ok:
            return summary.error
        try:
            imap.idle_once(
                inbound.account_of(mailbox),
                seconds=self.idle_seconds,
                last_uid=summary.last_uid,
                timeout=self.timeout,
                interval=self.noop_seconds,
                stop=self.stopping,
            )
        except imap.MailboxUnavailable as unavailable:
            return str(unavailable)
        return ""


class IdleLoop:
    """One watcher per active IMAP mailbox, kept in step with the mailbox list."""

    def __init__(
        self,
        *,
        idle_seconds: float = IDLE_SECONDS,
        noop_seconds: float = NOOP_SECONDS,
        refresh_seconds: float = REFRESH_SECONDS,
        timeout: float = 30,
    ) -> None:
        self.options = {"idle_seconds": idle_seconds, "noop_seconds": noop_seconds}
        self.timeout = timeout
        self.refresh_seconds = refresh_seconds
        self.watchers: dict[int, Watcher] = {}
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="imap-idle", daemon=True)

    def start(self) -> IdleLoop:
        self._thread.start()
        return self

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop every watcher (each ends its IDLE and logs out) and wait for them."""
        self.stopping.set()
        self._thread.join(timeout)
        for watcher in list(self.watchers.values()):
            watcher.stopping.set()
        for watcher in list(self.watchers.values()):
            watcher.join(timeout)

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    self.refresh()
                except Exception:  # the database is down: the watchers keep what they have
                    logger.exception("reading the IMAP mailboxes for IDLE failed")
                self.stopping.wait(self.refresh_seconds)
        finally:
            connection.close()

    def refresh(self) -> None:
        """Start a watcher for each new mailbox; replace those whose settings changed and
        let go of those no longer active."""
        close_old_connections()
        wanted = {mailbox.pk: mailbox for mailbox in inbound.imap_mailboxes()}
        for pk, watcher in list(self.watchers.items()):
            current = wanted.get(pk)
            if current is None or _settings(current) != watcher.settings or not watcher.is_alive():
                watcher.stopping.set()
                del self.watchers[pk]
        for pk, mailbox in wanted.items():
            if pk not in self.watchers and not self.stopping.is_set():
                watcher = Watcher(mailbox, timeout=self.timeout, **self.options)
                self.watchers[pk] = watcher
                watcher.start()
                logger.info("watching %s for new mail (IMAP IDLE)", mailbox.address)
