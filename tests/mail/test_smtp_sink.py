"""The SMTP sink the outbound tests rely on: it keeps what it is sent, and survives a restart."""

from __future__ import annotations

import smtplib
import socket

import pytest

from tests.mail.servers import SmtpSink, message


def send(sink: SmtpSink, raw: bytes, to: list[str]) -> None:
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
        assert client.sendmail("desk@example.test", to, raw) == {}


def test_each_message_is_kept_with_its_envelope(smtp_sink: SmtpSink) -> None:
    first, second = message(1), message(2)
    send(smtp_sink, first, ["a@example.org"])
    send(smtp_sink, second, ["b@example.org", "c@example.org"])
    got = smtp_sink.messages()
    assert [m.raw for m in got] == [first, second]
    assert [m.rcpt_tos for m in got] == [("a@example.org",), ("b@example.org", "c@example.org")]
    assert {m.mail_from for m in got} == {"desk@example.test"}
    smtp_sink.clear()
    assert smtp_sink.messages() == []


def test_stop_refuses_connections_and_start_serves_the_same_port_again(
    smtp_sink: SmtpSink,
) -> None:
    port = smtp_sink.port
    send(smtp_sink, message(3), ["a@example.org"])
    smtp_sink.stop()
    assert not smtp_sink.running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises((smtplib.SMTPException, OSError)):
        send(smtp_sink, message(4), ["a@example.org"])

    smtp_sink.start()
    assert smtp_sink.running and smtp_sink.port == port
    send(smtp_sink, message(5), ["a@example.org"])
    bodies = [m.raw for m in smtp_sink.wait_for(2)]
    assert [b"Message number 3." in b for b in bodies] == [True, False]
    assert b"Message number 5." in bodies[1]


def test_several_restarts_in_a_row(smtp_sink: SmtpSink) -> None:
    for n in range(3):
        smtp_sink.stop()
        smtp_sink.start()
        send(smtp_sink, message(10 + n), ["a@example.org"])
    assert len(smtp_sink.messages()) == 3
