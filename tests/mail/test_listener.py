"""The SMTP/LMTP listener, driven by the stdlib's own SMTP and LMTP clients over real sockets."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from patron.mail.listener import Envelope, MailHandler, serve
from tests.mail.servers import message, wait_for_port

MAX_BYTES = 20_000
KNOWN = {"support@example.test", "billing@example.test", "broken@example.test"}


@dataclass
class Recorder:
    """The `store` callback: keeps what it got; fails for broken@ or while `failures` > 0."""

    stored: list[tuple[bytes, Envelope]] = field(default_factory=list)
    calls: int = 0
    failures: int = 0
    gate: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, raw: bytes, envelope: Envelope) -> None:
        with self.lock:
            self.calls += 1
        if self.gate is not None:
            assert self.gate.wait(10)
        if "broken@example.test" in envelope.rcpt_tos:
            raise RuntimeError("database is down for this mailbox")
        with self.lock:
            if self.failures > 0:
                self.failures -= 1
                raise RuntimeError("database is down")
            self.stored.append((raw, envelope))


@dataclass
class Listener:
    port: int
    recorder: Recorder

    def smtp(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.port, timeout=10)

    def lmtp(self) -> smtplib.LMTP:
        return smtplib.LMTP("127.0.0.1", self.port, timeout=10)


def start_listener(protocol: str) -> Iterator[Listener]:
    recorder = Recorder()
    handler = MailHandler(store=recorder, accepts=lambda a: a.lower() in KNOWN, max_bytes=MAX_BYTES)
    bound: list[int] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=serve,
        args=("127.0.0.1", 0),
        kwargs={
            "protocol": protocol,
            "handler": handler,
            "ready": bound.append,
            "stop": stop,
            "grace": 5,
        },
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not bound:
        assert time.monotonic() < deadline and thread.is_alive(), "the listener did not start"
        time.sleep(0.01)
    try:
        yield Listener(bound[0], recorder)
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "the listener did not stop"


@pytest.fixture
def smtp_listener() -> Iterator[Listener]:
    yield from start_listener("smtp")


@pytest.fixture
def lmtp_listener() -> Iterator[Listener]:
    yield from start_listener("lmtp")


def test_smtp_answers_250_after_storing_the_exact_bytes(smtp_listener: Listener) -> None:
    raw = message(1)
    with smtp_listener.smtp() as client:
        refused = client.sendmail(
            "customer@example.org", ["support@example.test", "Billing@example.test"], raw
        )
    assert refused == {}
    [(stored, envelope)] = smtp_listener.recorder.stored
    assert stored == raw
    assert envelope.mail_from == "customer@example.org"
    assert envelope.rcpt_tos == ("support@example.test", "Billing@example.test")
    assert envelope.protocol == "smtp"
    assert envelope.peer.startswith("127.0.0.1:")
    assert smtp_listener.recorder.calls == 1  # one store per transaction, never twice


def test_250_waits_for_the_store_to_return(smtp_listener: Listener) -> None:
    gate = threading.Event()
    smtp_listener.recorder.gate = gate
    replies: list[tuple[int, bytes]] = []

    def send() -> None:
        with smtp_listener.smtp() as client:
            client.ehlo()
            client.mail("customer@example.org")
            client.rcpt("support@example.test")
            replies.append(client.data(message(2)))

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 5
    while smtp_listener.recorder.calls == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    assert smtp_listener.recorder.calls == 1
    assert replies == []  # the store is still running: no answer yet
    gate.set()
    sender.join(10)
    assert replies and replies[0][0] == 250
    assert len(smtp_listener.recorder.stored) == 1


def test_unknown_recipient_is_refused_at_rcpt(smtp_listener: Listener) -> None:
    with smtp_listener.smtp() as client:
        client.ehlo()
        client.mail("customer@example.org")
        assert client.rcpt("nobody@example.test") == (550, b"5.1.1 Recipient rejected")
        client.rset()
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("customer@example.org", ["nobody@example.test"], message(3))
        # A mix: only the known one gets the message.
        refused = client.sendmail(
            "customer@example.org", ["nobody@example.test", "support@example.test"], message(4)
        )
    assert refused == {"nobody@example.test": (550, b"5.1.1 Recipient rejected")}
    [(_, envelope)] = smtp_listener.recorder.stored
    assert envelope.rcpt_tos == ("support@example.test",)


def test_size_is_advertised_and_oversize_is_refused_with_552(smtp_listener: Listener) -> None:
    big = message(5, size=MAX_BYTES + 5_000)
    with smtp_listener.smtp() as client:
        client.ehlo()
        assert client.esmtp_features["size"] == str(MAX_BYTES)
        # smtplib declares SIZE=… in MAIL FROM: refused before the data is sent.
        with pytest.raises(smtplib.SMTPSenderRefused) as caught:
            client.sendmail("customer@example.org", ["support@example.test"], big)
        assert (caught.value.smtp_code, caught.value.smtp_error) == (
            552,
            b"5.3.4 Message too big for system",
        )
        # A client that does not declare the size is refused after DATA.
        client.rset()
        client.mail("customer@example.org")
        client.rcpt("support@example.test")
        assert client.data(big) == (552, b"5.3.4 Message too big for system")
        # The connection is still usable.
        assert client.sendmail("customer@example.org", ["support@example.test"], message(6)) == {}
    assert len(smtp_listener.recorder.stored) == 1
    assert b"Message number 6." in smtp_listener.recorder.stored[0][0]


def test_a_failing_store_answers_451_and_the_retry_is_stored_once(smtp_listener: Listener) -> None:
    raw = message(7)
    smtp_listener.recorder.failures = 1
    with smtp_listener.smtp() as client:
        with pytest.raises(smtplib.SMTPDataError) as caught:
            client.sendmail("customer@example.org", ["support@example.test"], raw)
        assert (caught.value.smtp_code, caught.value.smtp_error) == (
            451,
            b"4.3.0 Temporary failure, please retry",
        )
        assert smtp_listener.recorder.stored == []
        client.rset()
        assert client.sendmail("customer@example.org", ["support@example.test"], raw) == {}
    assert [r for r, _ in smtp_listener.recorder.stored] == [raw]
    assert smtp_listener.recorder.calls == 2


def test_long_lines_are_accepted_whole_and_absurd_ones_refused(smtp_listener: Listener) -> None:
    long_line = b"y" * 5_000
    raw = message(8).replace(b"Message number 8.", long_line)
    endless = message(9).replace(b"Message number 9.", b"z" * (MAX_BYTES * 3))
    with smtp_listener.smtp() as client:
        assert client.sendmail("customer@example.org", ["support@example.test"], raw) == {}
        client.ehlo()
        client.mail("customer@example.org")
        client.rcpt("support@example.test")
        assert client.data(endless)[0] == 552
        assert client.noop()[0] == 250
    [(stored, _)] = smtp_listener.recorder.stored
    assert stored == raw and long_line in stored


def test_an_overlong_command_line_does_not_crash_it(smtp_listener: Listener) -> None:
    with smtp_listener.smtp() as client:
        client.ehlo()
        assert client.docmd("MAIL FROM:<" + "a" * 5000 + "@example.org>")[0] == 500
        assert client.noop()[0] == 250


def test_lmtp_replies_once_per_recipient(lmtp_listener: Listener) -> None:
    raw = message(10)
    with lmtp_listener.lmtp() as client:
        client.ehlo_or_helo_if_needed()
        assert client.mail("customer@example.org")[0] == 250
        assert client.rcpt("support@example.test")[0] == 250
        assert client.rcpt("nobody@example.test")[0] == 550
        assert client.rcpt("broken@example.test")[0] == 250
        assert client.rcpt("billing@example.test")[0] == 250
        first = client.data(raw)
        replies = [first, client.getreply(), client.getreply()]
    assert [code for code, _ in replies] == [250, 451, 250]
    assert replies[1][1] == b"4.3.0 Temporary failure, please retry"
    stored = lmtp_listener.recorder.stored
    assert [(r, e.rcpt_tos, e.protocol) for r, e in stored] == [
        (raw, ("support@example.test",), "lmtp"),
        (raw, ("billing@example.test",), "lmtp"),
    ]


def test_lmtp_delivery_with_the_stdlib_client(lmtp_listener: Listener) -> None:
    with lmtp_listener.lmtp() as client:
        assert client.sendmail("a@example.org", ["support@example.test"], message(11)) == {}
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            client.sendmail("a@example.org", ["nobody@example.test"], message(12))
    assert len(lmtp_listener.recorder.stored) == 1


SERVER_SCRIPT = textwrap.dedent(
    """
    import sys, time, pathlib
    from patron.mail.listener import MailHandler, serve

    out = pathlib.Path(sys.argv[1])

    def store(raw, envelope):
        time.sleep(float(sys.argv[2]))
        (out / f"{time.time_ns()}.eml").write_bytes(raw)

    handler = MailHandler(store=store, accepts=lambda a: True, max_bytes=10_000)
    serve("127.0.0.1", 0, protocol="smtp", handler=handler,
          ready=lambda port: print(port, flush=True), grace=10)
    print("stopped", flush=True)
    """
)


def run_listener_process(tmp_path: Path, delay: float) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT, str(tmp_path), str(delay)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    wait_for_port(port)
    return process, port


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    process, port = run_listener_process(tmp_path, 0)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            assert client.sendmail("a@example.org", ["b@example.test"], message(13)) == {}
        idle = smtplib.SMTP("127.0.0.1", port, timeout=10)  # an idle client must not block exit
        process.send_signal(sig)
        out, _ = process.communicate(timeout=10)
        idle.close()
    finally:
        process.kill()
    assert process.returncode == 0
    assert out.strip() == "stopped"
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_sigterm_lets_a_running_store_finish_and_answer(tmp_path: Path) -> None:
    process, port = run_listener_process(tmp_path, 1.5)
    replies: list[tuple[int, bytes]] = []

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo()
            client.mail("a@example.org")
            client.rcpt("b@example.test")
            replies.append(client.data(message(14)))

    try:
        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.7)  # the store is sleeping now
        process.send_signal(signal.SIGTERM)
        sender.join(10)
        process.wait(10)
    finally:
        process.kill()
    assert replies and replies[0][0] == 250
    assert len(list(tmp_path.glob("*.eml"))) == 1
    assert process.returncode == 0
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", port, timeout=2)
