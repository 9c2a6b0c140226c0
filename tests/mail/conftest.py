"""Fixtures for the mail tests: a real Dovecot (IMAP + LMTP) and a real SMTP sink.

Outside CI a missing Dovecot (or vmail user) skips the tests that need it; with CI=true it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mail.servers import Dovecot, SmtpSink


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One Dovecot for the session; each test isolates itself with `dovecot.new_user()`."""
    server = Dovecot()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dovecot_basic() -> Iterator[Dovecot]:
    """A Dovecot that advertises neither MOVE nor IDLE, to exercise the clients' fallbacks."""
    server = Dovecot(capabilities="IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE UIDPLUS")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mailbox_user(dovecot: Dovecot) -> str:
    return dovecot.new_user()


@pytest.fixture
def smtp_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    """An aiosmtpd sink in a subprocess on a free port; `stop()`/`start()` keep the port."""
    sink = SmtpSink(tmp_path / "smtp-sink")
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()
