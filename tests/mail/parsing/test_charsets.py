"""Charsets from real-world mail: one bad byte is one replacement character, not a part in the
wrong charset; and subjects, names and bodies read a declared charset through one table of
wider supersets (GB2312 as GB18030, ISO-8859-1 as cp1252, ...).

The messages are made for these tests (tests/fixtures/mail-made/, and the bytes below).
"""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path

import pytest

from patron.mail.models import Mailbox
from patron.mail.parsing import decode_bytes, parse
from patron.mail.parsing.defects import _Defects
from tests.mail.parsing.helpers import assert_contract, raw_mail
from tests.mail.parsing.test_addresses import ticket_of
from tests.mail.test_ingest import Capture, mailbox

__all__ = ["mailbox"]  # the fixture, shared with the ingest tests

MADE = Path(__file__).resolve().parents[2] / "fixtures" / "mail-made"
GB18030_ONLY = "镕"  # in GB18030 (and GBK), not in GB2312


# ---------------------------------------------------------------------------------------------
# One invalid byte


def test_one_bad_byte_in_9_kb_of_utf8_html_is_one_replacement() -> None:
    raw = (MADE / "utf8-html-one-bad-byte.eml").read_bytes()
    mail = parse(raw)
    assert_contract(mail)
    assert mail.html.count("\ufffd") == 1
    assert "K\ufffdln" in mail.text
    assert mail.text.count("Grüße aus Köln") == 94  # every other paragraph reads as written
    assert "Ã" not in mail.text  # no mojibake
    assert "part 1 (text/html): 1 invalid byte sequence(s) for utf-8 replaced with U+FFFD" in (
        mail.defects
    )


def test_one_bad_byte_in_a_text_part_is_one_replacement() -> None:
    body = ("Straße, Grüße, Ærø. " * 50).encode() + b"\x81 end"
    mail = parse(raw_mail("Content-Type: text/plain; charset=utf-8\r\n", body))
    assert mail.text.endswith("\ufffd end")
    assert mail.text.count("Grüße") == 50
    assert any("replaced with U+FFFD" in d for d in mail.defects)


@pytest.mark.parametrize(
    ("data", "charset", "expected", "defect"),
    [
        # Mostly damage under the declared charset: another charset repairs it.
        ("Grüße aus Köln".encode("cp1252"), "utf-8", "Grüße aus Köln", "decoded as cp1252"),
        ("Grüße".encode("cp1252"), None, "Grüße", None),
        # Valid utf-8 under a 7-bit label.
        ("Grüße".encode(), "us-ascii", "Grüße", "decoded as utf-8"),
        # A byte cp1252 leaves undefined, under iso-8859-1: latin-1 reads it, no damage.
        (b"caf\xe9 \x81", "iso-8859-1", "café \x81", None),
        # As good as it gets: half replaced, half kept stays in the declared charset.
        ("é".encode() + b"\xff", "utf-8", "é\ufffd", "1 invalid byte sequence(s)"),
    ],
)
def test_another_charset_only_when_it_repairs_more_than_it_damages(
    data: bytes, charset: str | None, expected: str, defect: str | None
) -> None:
    defects = _Defects()
    assert decode_bytes(data, charset, defects) == expected
    if defect is None:
        assert not defects.items()
    else:
        assert any(defect in d for d in defects.items()), defects.items()


# ---------------------------------------------------------------------------------------------
# One table of supersets, for headers and bodies alike


def test_gb2312_subject_name_and_body_all_read_as_gb18030() -> None:
    mail = parse((MADE / "gb2312-subject-and-body.eml").read_bytes())
    assert_contract(mail)
    assert mail.subject == f"关于{GB18030_ONLY}的问题"
    assert mail.sender is not None and mail.sender.name == f"朱{GB18030_ONLY}"
    assert mail.text.strip() == f"您好，关于{GB18030_ONLY}的问题。"  # noqa: RUF001
    assert ("Subject", mail.subject) in mail.headers
    assert not mail.defects


@pytest.mark.parametrize(
    ("charset", "text", "codec"),
    [
        ("gb2312", f"中文{GB18030_ONLY}", "gb18030"),
        ("iso-8859-1", "€100 \u2013 naïve", "cp1252"),
        ("us-ascii", "“quoted”", "cp1252"),
        ("ks_c_5601-1987", "똠방각하", "cp949"),
        ("shift_jis", "①髙橋", "cp932"),
        ("big5", "香港𨋢", "big5hkscs"),
    ],
)
def test_encoded_words_raw_headers_and_bodies_share_the_supersets(
    charset: str, text: str, codec: str
) -> None:
    data = text.encode(codec)
    word = f"=?{charset}?b?{base64.b64encode(data).decode()}?="
    raw = (
        f"From: {word} <a@example.com>\r\nTo: support@desk.example\r\nSubject: {word}\r\n"
        f"Content-Type: text/plain; charset={charset}\r\n\r\n"
    ).encode() + data
    mail = parse(raw)
    assert mail.subject == text
    assert mail.sender is not None and mail.sender.name == text
    assert mail.text == text
    raw_header = b"From: a@example.com\r\nSubject: " + data + raw[raw.index(b"\r\nContent-Type") :]
    assert parse(raw_header).subject == text


def test_a_character_split_across_two_encoded_words_is_joined() -> None:
    data = "關於香港".encode("big5hkscs")
    first, second = (base64.b64encode(half).decode() for half in (data[:3], data[3:]))
    raw = f"From: a@example.com\r\nSubject: =?big5?b?{first}?=\r\n =?big5?b?{second}?=\r\n\r\nx"
    assert parse(raw.encode()).subject == "關於香港"


def test_a_gb2312_mail_with_gb18030_characters_becomes_a_readable_ticket(
    mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    raw = (MADE / "gb2312-subject-and-body.eml").read_bytes()
    ticket = ticket_of(django_capture_on_commit_callbacks, raw, mailbox, now)
    assert ticket.subject == f"关于{GB18030_ONLY}的问题"
    assert ticket.requester.name == f"朱{GB18030_ONLY}"
