"""Headers: addresses, message ids, dates, RFC 2047 and charsets."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from patron.mail.parsing import Address, decode_bytes, is_unprocessable, parse
from tests.mail.parsing.helpers import assert_contract, message, raw_mail

# --------------------------------------------------------------------------------------------
# Headers


def test_basic_headers() -> None:
    msg = message(
        In_Reply_To="<a@x.example>",
        References="<r1@x.example> <a@x.example>  <r1@x.example>",
        Cc='"Bob, B." <bob@Sub.Example.ORG>, carol@example.net',
        Reply_To="Helpdesk <reply@example.com>",
    )
    msg.set_content("Hello")
    mail = parse(msg.as_bytes())
    assert mail.message_id == "m1@example.com"
    assert mail.in_reply_to == ("a@x.example",)
    assert mail.references == ("r1@x.example", "a@x.example")
    assert mail.sender == Address(name="Ann Customer", address="ann@example.com")
    assert mail.to == (Address(name="", address="support@desk.example"),)
    assert mail.cc == (
        Address(name="Bob, B.", address="bob@sub.example.org"),
        Address(name="", address="carol@example.net"),
    )
    assert mail.reply_to == (Address(name="Helpdesk", address="reply@example.com"),)
    assert mail.date == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert mail.text == "Hello"
    assert ("Subject", "Printer jam") in mail.headers
    assert [name for name, _ in mail.headers][:3] == ["From", "To", "Subject"]
    assert is_unprocessable(mail) is None


def test_local_part_case_is_kept_and_domain_lowered() -> None:
    mail = parse(raw_mail("", b"x").replace(b"ann@example.com", b"Ann.Smith@EXAMPLE.Com"))
    assert mail.sender == Address(name="Ann", address="Ann.Smith@example.com")


def test_comment_is_the_name_when_there_is_no_display_name() -> None:
    mail = parse(b"From: ann@example.com (Ann Smith)\r\n\r\nx")
    assert mail.sender == Address(name="Ann Smith", address="ann@example.com")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),
        ("   ", None),
        ("<>", None),
        ("<  abc@x  >", "abc@x"),
        ("abc@x", "abc@x"),
        ("<abc@x> (comment)", "abc@x"),
    ],
)
def test_message_id_forms(value: str, expected: str | None) -> None:
    mail = parse(f"From: a@b.example\r\nMessage-ID: {value}\r\n\r\nx".encode())
    assert mail.message_id == expected


def test_in_reply_to_without_brackets_and_with_junk() -> None:
    raw = b"From: a@b.example\r\nIn-Reply-To: abc@x.example (Ann's message of Monday)\r\n\r\nx"
    assert parse(raw).in_reply_to == ("abc@x.example",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 23 Nov 2026 10:00:00 +0100", datetime(2026, 11, 23, 9, 0, tzinfo=UTC)),
        ("Mon, 23 Nov 2026 10:00:00 -0000", datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
        ("23 Nov 2026 10:00 EST", datetime(2026, 11, 23, 15, 0, tzinfo=UTC)),
        ("not a date", None),
        ("Wed, 15 Dec 2010 59:10 -0500", None),
    ],
)
def test_dates_are_aware_utc(value: str, expected: datetime | None) -> None:
    mail = parse(f"From: a@b.example\r\nDate: {value}\r\n\r\nx".encode())
    assert mail.date == expected
    if expected is None:
        assert any("Date" in d for d in mail.defects)
    else:
        assert mail.date is not None and mail.date.tzinfo is UTC


# --------------------------------------------------------------------------------------------
# RFC 2047 and charsets


def test_rfc2047_subject_and_names_are_decoded() -> None:
    raw = (
        b"From: =?iso-8859-1?q?Andr=E9?= =?utf-8?b?TcO8bGxlcg==?= <andre@example.com>\r\n"
        b"Subject: =?utf-8?q?Caf=C3=A9?=\r\n =?iso-8859-1?b?IGF1IGxhaXQ=?=   order\r\n"
        b"\r\nbody"
    )
    mail = parse(raw)
    assert mail.subject == "Café au lait order"
    assert mail.sender is not None and mail.sender.address == "andre@example.com"
    assert mail.sender.name.replace(" ", "") == "AndréMüller"
    assert ("Subject", "Café au lait order") in [(n, " ".join(v.split())) for n, v in mail.headers]


@pytest.mark.parametrize(
    "subject",
    [
        b"=?NONE?B?VEVTVA=?=",  # unknown charset, bad padding
        b"=?utf-8?B?not base64!?=",
        b"=?utf-8?Q?unterminated",
        b"=?x-unknown?q?Caf=E9?= ok",
        b"=??=",
    ],
)
def test_broken_rfc2047_never_raises(subject: bytes) -> None:
    mail = parse(b"From: a@b.example\r\nSubject: " + subject + b"\r\n\r\nbody")
    assert_contract(mail)
    assert mail.subject  # something readable is left
    assert mail.text == "body"


def test_raw_8bit_subject_in_latin1_is_read() -> None:
    mail = parse(b"From: a@b.example\r\nSubject: Gr\xfc\xdfe aus K\xf6ln\r\n\r\nbody")
    assert mail.subject == "Grüße aus Köln"


def test_raw_8bit_header_uses_the_body_charset() -> None:
    raw = (
        b"From: a@b.example\r\nSubject: \xcf\xf0\xe8\xe2\xe5\xf2\r\n"
        b"Content-Type: text/plain; charset=windows-1251\r\n\r\n\xcf\xf0\xe8\xe2\xe5\xf2"
    )
    mail = parse(raw)
    assert mail.text == "Привет"
    assert mail.subject == "Привет"


@pytest.mark.parametrize(
    ("charset", "body", "expected", "defect"),
    [
        ("iso-8859-1", "Café".encode("latin-1"), "Café", None),
        ("utf-8", "Café".encode("cp1252"), "Café", "not valid utf-8; decoded as cp1252"),
        ("us-ascii", "Café".encode(), "Café", "not valid us-ascii; decoded as utf-8"),
        ("x-unknown", "Café".encode(), "Café", "unknown charset 'x-unknown'"),
        ("koi8-r", "Привет".encode("koi8-r"), "Привет", None),
        ("iso-2022-jp", "まみむめも".encode("iso2022_jp"), "まみむめも", None),
        ("shift_jis", "テスト".encode("shift_jis"), "テスト", None),
        ("ks_c_5601-1987", "한국어".encode("cp949"), "한국어", None),
        ("gb2312", "中文".encode("gb2312"), "中文", None),
        ("unicode_escape", b"\\ud800 x", "\\ud800 x", "unknown charset"),
        ("utf-16", "hi".encode("utf-16"), "hi", None),
    ],
)
def test_charsets(charset: str, body: bytes, expected: str, defect: str | None) -> None:
    raw = raw_mail(
        f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: base64\r\n",
        base64.encodebytes(body),
    )
    mail = parse(raw)
    assert mail.text == expected
    if defect is None:
        assert not mail.defects
    else:
        assert any(defect in d for d in mail.defects), mail.defects


def test_missing_charset_falls_back_to_utf8_then_cp1252() -> None:
    utf8 = parse(raw_mail("Content-Type: text/plain\r\n", "naïve".encode()))
    cp1252 = parse(raw_mail("Content-Type: text/plain\r\n", "na\u00efve \u20ac".encode("cp1252")))
    assert utf8.text == "naïve"
    assert cp1252.text == "naïve €"


def test_decode_bytes_never_fails() -> None:
    assert decode_bytes(bytes(range(256)), "utf-8")
    assert decode_bytes(b"\xff\xfe\x00", "nonsense-charset\x00") == "ÿþ"
