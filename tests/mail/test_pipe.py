"""`patron mail pipe`: the exit status tells the MTA to deliver, retry (75) or bounce (65)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from patron.mail.listener import Envelope
from patron.mail.pipe import EX_DATAERR, EX_OK, EX_TEMPFAIL, envelope_from_environment, pipe
from tests.mail.servers import message


class Store:
    def __init__(self, error: Exception | None = None) -> None:
        self.got: list[tuple[bytes, Envelope]] = []
        self.error = error

    def __call__(self, raw: bytes, envelope: Envelope) -> None:
        if self.error is not None:
            raise self.error
        self.got.append((raw, envelope))


def run(data: bytes, store: Store, *, max_bytes: int = 10_000) -> tuple[int, str]:
    err = io.StringIO()
    envelope = Envelope("a@example.org", ("support@example.test",), "pipe", "pipe")
    code = pipe(io.BytesIO(data), store=store, max_bytes=max_bytes, envelope=envelope, stderr=err)
    return code, err.getvalue()


def test_a_message_is_stored_byte_for_byte_and_exits_0() -> None:
    raw = message(1) + b"\xff\xfe not utf-8\r\n"
    store = Store()
    assert run(raw, store) == (EX_OK, "")
    assert store.got == [
        (raw, Envelope("a@example.org", ("support@example.test",), "pipe", "pipe"))
    ]


def test_exactly_the_limit_is_accepted() -> None:
    raw = message(2).ljust(5_000, b"x")
    store = Store()
    assert run(raw, store, max_bytes=5_000)[0] == EX_OK
    assert store.got[0][0] == raw


def test_a_failing_store_is_a_temporary_failure_with_one_line() -> None:
    store = Store(RuntimeError("could not connect to server: Connection refused\n\tIs it running?"))
    code, err = run(message(3), store)
    assert code == EX_TEMPFAIL == 75
    assert err.count("\n") == 1 and "Connection refused" in err and "retry" in err


@pytest.mark.parametrize("data", [b"", b"\r\n", b"  \n\n"])
def test_empty_input_is_a_data_error(data: bytes) -> None:
    store = Store()
    code, err = run(data, store)
    assert code == EX_DATAERR == 65
    assert "empty" in err and err.count("\n") == 1
    assert store.got == []


def test_oversize_is_a_permanent_failure_and_nothing_is_stored() -> None:
    store = Store()
    code, err = run(message(4, size=30_000), store, max_bytes=10_000)
    assert code == EX_DATAERR
    assert "too big" in err and "10000" in err and err.count("\n") == 1
    assert store.got == []


def test_envelope_from_postfix_environment() -> None:
    env = {"SENDER": "a@example.org", "RECIPIENT": "support+x@example.test"}
    assert envelope_from_environment(env) == Envelope(
        "a@example.org", ("support+x@example.test",), "pipe", "pipe"
    )
    assert envelope_from_environment({}).rcpt_tos == ()


SCRIPT = textwrap.dedent(
    """
    import pathlib, sys
    from patron.mail.pipe import pipe

    out = pathlib.Path(sys.argv[1])

    def store(raw, envelope):
        if sys.argv[2] == "down":
            raise ConnectionError("the database is unreachable")
        (out / "stored.eml").write_bytes(raw)
        (out / "envelope.txt").write_text(envelope.mail_from + " " + ",".join(envelope.rcpt_tos))

    sys.exit(pipe(sys.stdin.buffer, store=store, max_bytes=int(sys.argv[3])))
    """
)


@pytest.mark.parametrize(
    ("mode", "size", "limit", "expected"),
    [
        ("up", 0, 100_000, 0),
        ("down", 0, 100_000, 75),
        ("up", 0, 0, 65),
        ("up", 300_000, 100_000, 65),
    ],
)
def test_as_a_real_process_fed_by_an_mta(
    tmp_path: Path, mode: str, size: int, limit: int, expected: int
) -> None:
    """What Postfix sees: stdin through a pipe (big input drained, no EPIPE), status, stderr."""
    raw = message(5, size=size) if limit else b""
    limit = limit or 100_000
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "SENDER": "a@example.org",
        "RECIPIENT": "support@example.test",
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), mode, str(limit)],
        input=raw,
        capture_output=True,
        env=env,
        timeout=30,
    )
    assert done.returncode == expected, done.stderr
    if expected == 0:
        assert done.stderr == b""
        assert (tmp_path / "stored.eml").read_bytes() == raw
        assert (tmp_path / "envelope.txt").read_text() == "a@example.org support@example.test"
    else:
        assert done.stderr.decode().count("\n") == 1, done.stderr
        assert not (tmp_path / "stored.eml").exists()
