"""What the parsing tests share: the raw-MIME corpus, the ParsedMail contract, message builders.

The corpus under tests/fixtures/raw-mime/ (CPython's email test messages and the Ruby mail gem's
fixtures, with their licences) is parsed whole; hand-written messages pin each rule; Hypothesis
builds random MIME trees and corrupts the corpus to show that `parse` never raises.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from hypothesis import HealthCheck, settings

from patron.mail.parsing import Address, Bounce, ParsedAttachment, ParsedMail, is_unprocessable

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "raw-mime"
CORPUS = sorted(
    path
    for path in FIXTURES.rglob("*")
    if path.is_file() and path.name not in ("LICENSE", "README.md", ".gitattributes")
)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def corpus(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def assert_contract(mail: ParsedMail) -> None:
    """What every consumer of ParsedMail may rely on, whatever the input was."""
    assert isinstance(mail, ParsedMail)
    strings: list[str] = [mail.subject, mail.text, mail.html]
    assert mail.message_id is None or (
        isinstance(mail.message_id, str)
        and mail.message_id
        and "<" not in mail.message_id
        and not any(ch.isspace() for ch in mail.message_id)
    )
    for ids in (mail.in_reply_to, mail.references):
        assert isinstance(ids, tuple)
        assert all(isinstance(i, str) and i and "<" not in i and ">" not in i for i in ids)
        strings.extend(ids)
    addresses = [*mail.reply_to, *mail.to, *mail.cc]
    if mail.sender is not None:
        addresses.append(mail.sender)
    for address in addresses:
        assert isinstance(address, Address)
        assert isinstance(address.name, str) and isinstance(address.address, str)
        if address.address:
            local, _, domain = address.address.rpartition("@")
            assert local and domain and domain == domain.lower()
        strings.extend((address.name, address.address))
    assert mail.date is None or (
        isinstance(mail.date, datetime) and mail.date.utcoffset() is not None
    )
    if mail.date is not None:
        assert mail.date.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert isinstance(mail.attachments, tuple)
    for attachment in mail.attachments:
        assert isinstance(attachment, ParsedAttachment)
        assert isinstance(attachment.data, bytes)
        assert attachment.filename and not re.search(r"[/\\\x00-\x1f]", attachment.filename)
        assert attachment.filename not in (".", "..")
        assert re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", attachment.content_type)
        assert attachment.content_id is None or "<" not in attachment.content_id
        assert isinstance(attachment.inline, bool)
        strings.append(attachment.filename)
    assert mail.auto_submitted is None or isinstance(mail.auto_submitted, str)
    assert mail.bounce is None or isinstance(mail.bounce, Bounce)
    for name, value in mail.headers:
        strings.extend((name, value))
    strings.extend(mail.defects)
    strings.extend(mail.oversized)
    for text in strings:
        assert isinstance(text, str)
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogates: the database and nh3 both refuse them
    assert_safe_html(mail.html)
    reason = is_unprocessable(mail)
    assert reason is None or (isinstance(reason, str) and reason)


def assert_safe_html(html: str) -> None:
    assert "<script" not in html.lower()
    assert re.search(r"<[^>]*\son[a-z]+\s*=", html, re.IGNORECASE) is None
    assert "javascript:" not in html.lower()
    for tag in re.findall(r"<img\b[^>]*>", html):
        src = re.search(r'\ssrc="([^"]*)"', tag)
        assert src is None or src.group(1).lower().startswith(("cid:", "data:image/"))


def message(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Ann Customer <ann@Example.COM>")
    msg["To"] = headers.pop("To", "support@desk.example")
    msg["Subject"] = headers.pop("Subject", "Printer jam")
    msg["Message-ID"] = headers.pop("Message_ID", "<m1@example.com>")
    msg["Date"] = headers.pop("Date", "Mon, 23 Nov 2026 10:00:00 +0100")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    return msg


def raw_mail(headers: str, body: bytes) -> bytes:
    base = "From: Ann <ann@example.com>\r\nTo: support@desk.example\r\nSubject: Hello\r\n"
    return (base + headers).encode("ascii") + b"\r\n" + body


HOSTILE_HTML = [
    "<script>alert(1)</script>", '<img src="http://t.example/x.gif" onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>', '<p onclick="x()">p</p>', "<style>*{}</style>",
    '<img src="cid:a@b">', "<iframe src=//evil></iframe>", "<svg onload=alert(1)>",
    "<!-- c -->", "<![CDATA[x]]>", "<title>t</title>", "&#0;&#xd800;",
]  # fmt: skip
