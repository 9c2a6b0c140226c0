"""MIME parsing: any bytes become a ParsedMail; bodies, attachments, bounces and auto-replies.

The corpus under tests/fixtures/raw-mime/ (CPython's email test messages and the Ruby mail gem's
fixtures, with their licences) is parsed whole; hand-written messages pin each rule; Hypothesis
builds random MIME trees and corrupts the corpus to show that `parse` never raises.
"""

from __future__ import annotations

import base64
import email
import email.policy
import quopri
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron.mail.parsing import (
    Address,
    Bounce,
    ParsedAttachment,
    ParsedMail,
    allow_remote_images,
    decode_bytes,
    html_to_text,
    is_out_of_office_subject,
    is_unprocessable,
    normalize_subject,
    parse,
    rewrite_cid,
    sanitize_filename,
    sanitize_mail_html,
    ticket_tag,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "raw-mime"
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


# --------------------------------------------------------------------------------------------
# The corpus


def test_the_corpus_is_complete() -> None:
    assert len(list((FIXTURES / "cpython").glob("msg_*.txt"))) == 48  # msg_01..47 and msg_12a
    assert len([p for p in CORPUS if "mikel-mail" in p.parts]) >= 104
    for folder in ("cpython", "mikel-mail"):
        assert (FIXTURES / folder / "LICENSE").is_file()
        assert (FIXTURES / folder / "README.md").is_file()


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_corpus_message_parses_within_the_contract(path: Path) -> None:
    mail = parse(path.read_bytes())
    assert_contract(mail)


def test_corpus_bounce_with_rfc822_headers() -> None:
    mail = parse(corpus("mikel-mail/multipart_report_emails/report_530.eml"))
    assert mail.bounce == Bounce(
        original_message_id="200712232303.lBNN3jDq002941@mail12.rrrr.com.au",
        recipient="edwin@zzzzzzz.com",
        status="5.3.0",
        action="failed",
        diagnostic="553 5.3.0 <edwin@zzzzzzz.com>... Unknown E-Mail Address",
        recipients=("edwin@zzzzzzz.com",),
    )
    assert mail.auto_submitted == "Auto-Submitted: auto-generated (failure)"
    assert "permanent fatal errors" in mail.text


def test_corpus_bounce_with_several_recipients_and_message_rfc822() -> None:
    mail = parse(corpus("mikel-mail/multipart_report_emails/multi_address_bounce1.eml"))
    assert mail.bounce is not None
    assert mail.bounce.original_message_id == ("118707422.15521266992174819.JavaMail.root@lvmail01")
    assert mail.bounce.status == "5.1.1"
    assert len(mail.bounce.recipients) == 5
    assert mail.bounce.recipient == mail.bounce.recipients[0]
    assert "does not exist" in mail.bounce.diagnostic
    assert any(a.filename.endswith(".eml") for a in mail.attachments)


def test_corpus_delayed_warning_is_a_bounce_with_action_delayed() -> None:
    mail = parse(corpus("mikel-mail/multipart_report_emails/report_422.eml"))
    assert mail.bounce is not None
    assert (mail.bounce.action, mail.bounce.status) == ("delayed", "4.2.2")


def test_corpus_utf8_headers() -> None:
    mail = parse(corpus("mikel-mail/rfc6532/utf8_headers.eml"))
    assert mail.sender == Address(name="Jöhn Doe", address="jdöe@mächine.example")
    assert mail.subject == "Säying Hello"


def test_corpus_japanese_iso_2022_jp() -> None:
    mail = parse(corpus("mikel-mail/multi_charset/japanese_iso_2022.eml"))
    assert mail.subject == "まみむめも"
    assert not any("charset" in d for d in mail.defects)


def test_corpus_stray_header_line_does_not_lose_the_sender() -> None:
    mail = parse(corpus("mikel-mail/plain_emails/raw_email_incorrect_header.eml"))
    assert mail.sender == Address(name="xxx xxx", address="xxx@xxx.xxx")
    assert any("not a header" in d for d in mail.defects)


def test_missing_blank_line_keeps_the_body() -> None:
    mail = parse(b"From: a@b.example\r\nSubject: x\r\nHello,\r\nNote: call me\r\nbye")
    assert mail.text == "Hello,\nNote: call me\nbye"
    assert [name for name, _ in mail.headers] == ["From", "Subject"]


def test_corpus_obsolete_space_before_colon() -> None:
    mail = parse(corpus("mikel-mail/rfc2822/example13.eml"))
    assert mail.sender is not None and mail.sender.address == "jdoe@machine.example"
    assert mail.subject == "Saying Hello"


def test_corpus_unquoted_and_encoded_attachment_names() -> None:
    unquoted = parse(corpus("mikel-mail/attachment_emails/attachment_with_unquoted_name.eml"))
    assert [a.filename for a in unquoted.attachments] == ["This is a test.txt"]
    encoded = parse(corpus("mikel-mail/attachment_emails/attachment_with_base64_encoded_name.eml"))
    assert [a.filename for a in encoded.attachments] == ["This is a test.pdf"]


def test_corpus_address_without_brackets() -> None:
    mail = parse(corpus("mikel-mail/plain_emails/mix_caps_content_type.eml"))
    assert mail.sender == Address(name="Big Bug", address="bb@bug.com")


def test_corpus_headerless_text_is_unprocessable() -> None:
    mail = parse(corpus("cpython/msg_19.txt"))
    assert is_unprocessable(mail) is not None
    assert "Send Ppp mailing list" in mail.text  # kept all the same


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


def test_quoted_printable_body() -> None:
    body = quopri.encodestring("Grüße, long line ".encode() * 10)
    raw = raw_mail(
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n",
        body,
    )
    assert parse(raw).text == ("Grüße, long line " * 10).strip("\n")


def test_misspelt_transfer_encoding_is_still_decoded() -> None:
    raw = raw_mail(
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: Quoted Printable;\r\n",
        b"caf=C3=A9",
    )
    mail = parse(raw)
    assert mail.text == "café"
    assert any("misspelt transfer encoding" in d for d in mail.defects)


def test_nul_bytes_and_bare_cr_are_removed_from_text() -> None:
    mail = parse(raw_mail("Content-Type: text/plain; charset=utf-8\r\n", b"a\x00b\rc\r\nd"))
    assert mail.text == "ab\nc\nd"


def test_format_flowed_is_unflowed() -> None:
    body = b"This is a long \r\nparagraph that \r\nflows.\r\n> quoted \r\n> text\r\n-- \r\nSig"
    raw = raw_mail("Content-Type: text/plain; charset=utf-8; format=flowed\r\n", body)
    assert parse(raw).text == "This is a long paragraph that flows.\n> quoted text\n-- \nSig"


# --------------------------------------------------------------------------------------------
# Bodies and HTML


def test_plain_is_preferred_and_html_is_kept_sanitized() -> None:
    msg = message()
    msg.set_content("Plain words")
    msg.add_alternative(
        '<p onclick="steal()">Rich <b>words</b></p><script>alert(1)</script>'
        '<a href="javascript:alert(1)">x</a><a href="https://ok.example/">ok</a>',
        subtype="html",
    )
    mail = parse(msg.as_bytes())
    assert mail.text == "Plain words"
    assert mail.html.startswith("<p>Rich <b>words</b></p>")
    assert "alert" not in mail.html and "onclick" not in mail.html
    assert '<a href="https://ok.example/" rel="noopener noreferrer nofollow">ok</a>' in mail.html


def test_remote_images_in_a_mail_are_blocked() -> None:
    msg = message()
    msg.set_content('<p>Hi<img src="https://t.example/open.gif?id=9"></p>', subtype="html")
    mail = parse(msg.as_bytes())
    assert mail.html == '<p>Hi<img data-remote-src="https://t.example/open.gif?id=9"></p>'
    assert allow_remote_images(mail.html) == '<p>Hi<img src="https://t.example/open.gif?id=9"></p>'
    assert mail.text == "Hi"


def test_text_is_derived_from_html_when_there_is_no_plain_part() -> None:
    msg = message()
    msg.set_content(
        "<html><head><title>Ignored</title><style>p{}</style></head><body>"
        "<p>Hello&nbsp;there,</p><p>Line one<br>line two</p>"
        "<ul><li>first</li><li>second</li></ul>"
        "<blockquote><p>On Monday you wrote:</p><p>old text</p></blockquote></body></html>",
        subtype="html",
    )
    mail = parse(msg.as_bytes())
    assert mail.text == (
        "Hello there,\n\nLine one\nline two\n\n- first\n- second\n\n"
        "> On Monday you wrote:\n>\n> old text"
    )
    assert "Ignored" not in mail.html


def test_other_text_alternatives_are_dropped_calendar_is_kept() -> None:
    msg = message()
    msg.set_content("Meeting at noon")
    msg.add_alternative("<bold>Meeting</bold>", subtype="enriched")
    ics = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
    msg.add_alternative(ics, subtype="calendar", params={"method": "REQUEST"})
    mail = parse(msg.as_bytes())
    assert mail.text == "Meeting at noon"
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("attachment-1.ics", "text/calendar")
    ]
    assert mail.attachments[0].data.replace(b"\r\n", b"\n") == ics.replace("\r\n", "\n").encode()


def test_calendar_attachment_with_a_name_keeps_it_and_gains_ics() -> None:
    msg = message()
    msg.set_content("Invite")
    msg.add_attachment(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text", "calendar", filename="x")
    mail = parse(msg.as_bytes())
    assert [a.filename for a in mail.attachments] == ["x.ics"]


def test_interleaved_inline_text_parts_are_joined() -> None:
    raw = raw_mail(
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n',
        b"--b\r\nContent-Type: text/plain\r\n\r\nBefore the photo\r\n"
        b"--b\r\nContent-Type: image/png\r\nContent-Disposition: inline; filename=p.png\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nAfter the photo\r\n--b--\r\n",
    )
    mail = parse(raw)
    assert mail.text == "Before the photo\n\nAfter the photo"
    assert [(a.filename, a.data) for a in mail.attachments] == [("p.png", b"\x89PNG\r\n\x1a\n")]


def test_remote_images_are_blocked_and_can_be_allowed() -> None:
    html = (
        '<p><img src="https://tracker.example/p.gif?u=1&amp;x=2" alt="logo">'
        '<img src="//cdn.example/a.png"><img src="/logout"><img src="cid:logo@x">'
        '<img src="data:image/png;base64,iVBORw0KGgo=">'
        '<img src="data:text/html;base64,PHNjcmlwdD4=">'
        '<img src="javascript:alert(1)"></p>'
    )
    blocked = sanitize_mail_html(html)
    assert_safe_html(blocked)
    assert 'data-remote-src="https://tracker.example/p.gif?u=1&amp;x=2"' in blocked
    assert 'data-remote-src="https://cdn.example/a.png"' in blocked
    assert "/logout" not in blocked
    assert 'src="cid:logo@x"' in blocked
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in blocked
    assert "data:text/html" not in blocked
    allowed = allow_remote_images(blocked)
    assert '<img src="https://tracker.example/p.gif?u=1&amp;x=2" alt="logo">' in allowed
    assert '<img src="https://cdn.example/a.png">' in allowed
    assert "data-remote-src" not in allowed
    assert 'src="cid:logo@x"' in allowed


@pytest.mark.parametrize(
    "hostile",
    [
        '<img data-remote-src="javascript:alert(1)">',
        '<img data-remote-src="data:text/html,x">',
        '<img data-remote-src="https://x.example/a.png" onerror="alert(1)">',
        '<img data-remote-src=" JaVaScRiPt:alert(1)">',
        "<script>alert(1)</script><img data-remote-src='http://a.example/&quot;onerror=x'>",
    ],
)
def test_allow_remote_images_stays_safe_on_any_input(hostile: str) -> None:
    result = allow_remote_images(hostile)
    assert "javascript" not in result.lower()
    assert "<script" not in result and "onerror=" not in result.replace("&quot;onerror=x", "")
    for src in re.findall(r'\ssrc="([^"]*)"', result):
        assert src.startswith(("http://", "https://"))


def test_inline_cid_image_is_flagged_and_rewritable() -> None:
    msg = message()
    msg.set_content("See the logo")
    msg.add_alternative(
        '<p>See <img src="cid:logo.123@example.com" alt="logo"></p>', subtype="html"
    )
    html_part = msg.get_payload()[1]
    html_part.add_related(b"\x89PNG-logo", "image", "png", cid="<logo.123@example.com>")
    html_part.add_related(b"\x89PNG-unused", "image", "png", cid="<unused@example.com>")
    msg.add_attachment(b"%PDF-1.4", "application", "pdf", filename="invoice.pdf")
    mail = parse(msg.as_bytes())
    by_cid = {a.content_id: a for a in mail.attachments}
    assert by_cid["logo.123@example.com"].inline is True
    assert by_cid["logo.123@example.com"].data == b"\x89PNG-logo"
    assert by_cid["unused@example.com"].inline is False
    assert by_cid[None].filename == "invoice.pdf"
    assert mail.text == "See the logo"
    assert 'src="cid:logo.123@example.com"' in mail.html
    rewritten = rewrite_cid(
        mail.html,
        {"logo.123@example.com": "https://files.example/a/1?sig=x&y=1", "unused@example.com": "/x"},
    )
    assert 'src="https://files.example/a/1?sig=x&amp;y=1"' in rewritten
    assert "cid:" not in rewritten


def test_rewrite_cid_refuses_unsafe_urls_and_matches_encoded_ids() -> None:
    html = '<img src="cid:a%40b"><img src="cid:Other@X"><img src="cid:c">'
    result = rewrite_cid(
        html, {"a@b": "/attachments/1", "other@x": "https://f.example/2", "c": "javascript:x"}
    )
    assert 'src="/attachments/1"' in result
    assert 'src="https://f.example/2"' in result
    assert 'src="cid:c"' in result


def test_html_to_text_handles_tables_and_entities() -> None:
    text = html_to_text("<table><tr><td>a</td><td>b&amp;c</td></tr><tr><td>d</td></tr></table>")
    assert text == "a b&c\nd"


# --------------------------------------------------------------------------------------------
# Attachments


def test_attachment_names_are_decoded_and_sanitized() -> None:
    msg = message()
    msg.set_content("files")
    msg.add_attachment(b"1", "application", "pdf", filename="Rechnung März.pdf")  # RFC 2231
    msg.add_attachment(b"2", "text", "plain", filename="../../etc/passwd")
    msg.add_attachment(b"3", "application", "octet-stream", filename="C:\\temp\\evil.exe")
    msg.add_attachment(b"4", "application", "octet-stream", filename="invoice\u202efdp.exe")
    msg.add_attachment(b"5", "application", "pdf")  # no name
    msg.add_attachment(b"6", "application", "octet-stream", filename="..")
    mail = parse(msg.as_bytes())
    assert [a.filename for a in mail.attachments] == [
        "Rechnung März.pdf",
        "passwd",
        "evil.exe",
        "invoicefdp.exe",
        "attachment-5.pdf",
        "attachment-6.bin",
    ]
    assert [a.data for a in mail.attachments] == [b"1", b"2", b"3", b"4", b"5", b"6"]
    assert mail.text == "files"


def test_rfc2047_encoded_attachment_name() -> None:
    raw = raw_mail(
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n',
        b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b'--b\r\nContent-Type: application/pdf; name="=?utf-8?q?Pr=C3=BCfung.pdf?="\r\n'
        b"Content-Disposition: attachment\r\n\r\n%PDF\r\n--b--\r\n",
    )
    assert [a.filename for a in parse(raw).attachments] == ["Prüfung.pdf"]


def test_sanitize_filename_limits_length_and_keeps_extension() -> None:
    name = sanitize_filename("a" * 400 + ".pdf", "application/pdf", 1)
    assert len(name) <= 150 and name.endswith(".pdf")
    assert sanitize_filename("re:port<1>?.txt", "text/plain", 1) == "re_port_1__.txt"
    assert sanitize_filename("", "application/ms-tnef", 3) == "winmail.dat"


def test_tnef_winmail_dat_is_kept_as_an_attachment() -> None:
    msg = message()
    msg.set_content("See attached")
    msg.add_attachment(b"\x78\x9f\x3e\x22tnef", "application", "ms-tnef", filename="winmail.dat")
    unnamed = message()
    unnamed.set_content("See attached")
    unnamed.add_attachment(b"\x78\x9f\x3e\x22tnef", "application", "vnd.ms-tnef")
    for mail in (parse(msg.as_bytes()), parse(unnamed.as_bytes())):
        assert [(a.filename, a.data) for a in mail.attachments] == [
            ("winmail.dat", b"\x78\x9f\x3e\x22tnef")
        ]


def test_forwarded_message_is_an_eml_attachment() -> None:
    inner = message(Subject="Original: question / help", Message_ID="<inner@example.com>")
    inner.set_content("the original body")
    outer = message(Subject="Fwd: Original")
    outer.set_content("See below")
    outer.add_attachment(inner)
    mail = parse(outer.as_bytes())
    assert mail.text == "See below"  # the forwarded body is not mixed into ours
    [attachment] = mail.attachments
    assert attachment.content_type == "message/rfc822"
    assert attachment.filename == "Original_ question _ help.eml"
    reparsed = parse(attachment.data)
    assert reparsed.message_id == "inner@example.com"
    assert reparsed.text == "the original body"


def test_oversized_attachment_is_listed_not_dropped_silently() -> None:
    msg = message()
    msg.set_content("big file")
    msg.add_attachment(b"x" * 2000, "application", "zip", filename="big.zip")
    msg.add_attachment(b"y" * 10, "application", "pdf", filename="small.pdf")
    mail = parse(msg.as_bytes(), max_attachment_bytes=1000)
    assert [a.filename for a in mail.attachments] == ["small.pdf"]
    assert mail.oversized == ("big.zip (2000 bytes)",)
    assert any("big.zip" in d and "2000 bytes" in d for d in mail.defects)
    assert parse(msg.as_bytes(), max_attachment_bytes=5000).oversized == ()


def test_attachment_limit_defaults_to_the_setting(settings: pytest.FixtureRequest) -> None:
    msg = message()
    msg.set_content("big file")
    msg.add_attachment(b"x" * 2000, "application", "zip", filename="big.zip")
    settings.PATRON_MAX_ATTACHMENT_BYTES = 100  # type: ignore[attr-defined]
    assert parse(msg.as_bytes()).oversized == ("big.zip (2000 bytes)",)
    settings.PATRON_MAX_ATTACHMENT_BYTES = 10_000  # type: ignore[attr-defined]
    assert parse(msg.as_bytes()).oversized == ()


# --------------------------------------------------------------------------------------------
# Bounces


def dsn(report_headers: str, status: str, returned: bytes) -> bytes:
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example>\r\n"
        b"To: support@desk.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
        b"--R\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
        b"--R\r\nContent-Type: message/delivery-status\r\n\r\n"
        + report_headers.encode()
        + b"\r\n"
        + status.encode()
        + b"\r\n--R\r\n"
        + returned
        + b"\r\n--R--\r\n"
    )


def test_dsn_bounce_with_returned_headers() -> None:
    raw = dsn(
        "Reporting-MTA: dns; mx.example\r\n",
        "Final-Recipient: rfc822; gone@customer.example\r\nAction: failed\r\n"
        "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <gone@customer.example>:\r\n"
        "    Recipient address rejected: User unknown\r\n",
        b"Content-Type: text/rfc822-headers\r\n\r\nFrom: support@desk.example\r\n"
        b"Message-ID: <reply-42@desk.example>\r\nSubject: Re: [#1042] Printer\r\n",
    )
    mail = parse(raw)
    assert mail.bounce == Bounce(
        original_message_id="reply-42@desk.example",
        recipient="gone@customer.example",
        status="5.1.1",
        action="failed",
        diagnostic=("550 5.1.1 <gone@customer.example>: Recipient address rejected: User unknown"),
        recipients=("gone@customer.example",),
    )
    assert mail.auto_submitted == "delivery status notification"
    assert mail.text.startswith("I'm sorry")


def test_dsn_bounce_with_returned_message_and_no_diagnostic_code() -> None:
    raw = dsn(
        "Reporting-MTA: dns; mx.example\r\n",
        "Final-Recipient: rfc822;<full@customer.example>\r\nAction: delayed\r\nStatus: 4.2.2\r\n",
        b"Content-Type: message/rfc822\r\n\r\nFrom: support@desk.example\r\n"
        b"Message-ID: <reply-43@desk.example>\r\n\r\nbody\r\n",
    )
    bounce = parse(raw).bounce
    assert bounce is not None
    assert bounce.original_message_id == "reply-43@desk.example"
    assert (bounce.recipient, bounce.action, bounce.status) == (
        "full@customer.example",
        "delayed",
        "4.2.2",
    )
    assert bounce.diagnostic == "I'm sorry to have to inform you..."


def test_other_reports_are_not_bounces() -> None:
    raw = dsn("", "", b"Content-Type: text/plain\r\n\r\nx").replace(
        b"report-type=delivery-status", b"report-type=disposition-notification"
    )
    mail = parse(raw)
    assert mail.bounce is None
    assert mail.auto_submitted == "read receipt (disposition notification)"


# --------------------------------------------------------------------------------------------
# Auto-replies


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: auto-generated", "Auto-Submitted: auto-generated"),
        ("Auto-Submitted: no", None),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Precedence: Junk", "Precedence: junk"),
        ("Precedence: list", "Precedence: list"),
        ("Precedence: first-class", None),
        ("X-Autoreply: yes", "X-Autoreply: yes"),
        ("X-Autorespond: Out of office", "X-Autorespond: Out of office"),
        ("X-Auto-Response-Suppress: All", "X-Auto-Response-Suppress: All"),
        ("X-Auto-Response-Suppress: OOF, AutoReply", "X-Auto-Response-Suppress: OOF, AutoReply"),
        ("X-Mailer: Outlook", None),
    ],
)
def test_auto_reply_headers(header: str, expected: str | None) -> None:
    mail = parse(raw_mail(header + "\r\n", b"body"))
    assert mail.auto_submitted == expected


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: Printer jam",
        "Automatic reply: Re: [#1042] Printer jam",
        "AutoReply: Printer",
        "Out of office AutoReply: Printer",
        "Abwesenheitsnotiz: Drucker",
        "Automatische Antwort: Drucker",
        "Réponse automatique : Imprimante",
        "Reponse automatique: Imprimante",
        "Absent du bureau",
        "Respuesta automática: Impresora",
        "Fuera de la oficina: Impresora",
        "Automatisch antwoord: Printer",
        "Afwezig: Printer",
        "Resposta automática: Impressora",
        "Fora do escritório",
        "Balasan Otomatis: Printer",
        "Di luar kantor",
        "[EXTERNAL] Automatic reply: Printer",
        "=?utf-8?q?R=C3=A9ponse_automatique=C2=A0:?= Imprimante",
    ],
)
def test_out_of_office_subjects(subject: str) -> None:
    mail = parse(raw_mail("", b"body").replace(b"Subject: Hello", f"Subject: {subject}".encode()))
    assert mail.auto_submitted is not None
    assert mail.auto_submitted.startswith("out-of-office subject")


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Question about your office hours",
        "Automatically renew my plan?",
        "My reply was automatic",
        "Afwezigheid van de monteur",  # "absence of the engineer": a real request
        "Printer jam",
    ],
)
def test_ordinary_subjects_are_not_out_of_office(subject: str) -> None:
    assert not is_out_of_office_subject(subject)


# --------------------------------------------------------------------------------------------
# Subjects for threading


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Printer jam", "printer jam"),
        ("Re: Printer jam", "printer jam"),
        ("RE: RE: re:Printer   Jam ", "printer jam"),
        ("Re[2]: Printer jam", "printer jam"),
        ("Re(3): Printer jam", "printer jam"),
        ("Fw: Fwd: FW: Printer jam", "printer jam"),
        ("AW: WG: Printer jam", "printer jam"),
        ("Antw: Doorst: Printer jam", "printer jam"),
        ("TR : RE : Printer jam", "printer jam"),
        ("RV: Enc: Printer jam", "printer jam"),
        ("Balas: Bls: Printer jam", "printer jam"),
        ("SV: VS: Printer jam", "printer jam"),
        ("[EXTERNAL] Re: Printer jam", "printer jam"),
        ("Re: [External] *EXTERNAL* Printer jam", "printer jam"),
        ("Re: [#1042] Printer jam", "printer jam"),
        ("Printer jam [#1042]", "printer jam"),
        ("RE: AW: [EXTERNAL] Fwd: [#1234] Printer  jam", "printer jam"),
        ("Re\uff1aPrinter jam", "printer jam"),  # full-width colon (CJK mail clients)
        ("Regarding: the printer", "regarding: the printer"),
        ("Reply needed", "reply needed"),
        ("[Printer] Re: jam", "[printer] re: jam"),
        ("", ""),
    ],
)
def test_normalize_subject(subject: str, expected: str) -> None:
    assert normalize_subject(subject) == expected


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: [#1042] Printer", 1042),
        ("Printer [#7]", 7),
        ("Printer #1042", None),
        ("[# 1042]", None),
        ("[#abc]", None),
        ("", None),
    ],
)
def test_ticket_tag(subject: str, expected: int | None) -> None:
    assert ticket_tag(subject) == expected


# --------------------------------------------------------------------------------------------
# Never raise; unprocessable


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00" * 100,
        b"\r\n\r\n\r\n",
        bytes(range(256)) * 4,
        b"From: \x00\xff\xfe <\x00@\x00>\r\n\r\n",
        b"Content-Type: multipart/mixed\r\n\r\n--\r\n--",
        b"Content-Type: message/rfc822\r\n\r\n",
        b'Content-Type: text/plain; charset="\x00"\r\n\r\nx',
        b"Subject: " + b"=?utf-8?b?" * 500 + b"\r\n\r\n",
        b"From: " + b"(" * 2000 + b"\r\n\r\n",
        b"To: " + b"a@b, " * 2000 + b"\r\n\r\n",
    ],
)
def test_hostile_input_never_raises(raw: bytes) -> None:
    assert_contract(parse(raw))


def test_deep_nesting_is_cut_off_not_fatal() -> None:
    depth = 120
    head = b"".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode()
        for i in range(depth)
    )
    tail = b"".join(f"\r\n--b{i}--".encode() for i in reversed(range(depth)))
    mail = parse(b"From: a@b.example\r\n" + head + b"Content-Type: text/plain\r\n\r\nleaf" + tail)
    assert_contract(mail)
    assert mail.sender == Address(name="", address="a@b.example")
    assert any("nested" in d for d in mail.defects)


def test_very_long_headers_are_cut_with_a_defect() -> None:
    raw = b"From: a@b.example\r\nSubject: " + b"word " * 30_000 + b"\r\n\r\nbody"
    mail = parse(raw)
    assert 60_000 < len(mail.subject) <= 64 * 1024
    assert any("Subject" in d and "only the start read" in d for d in mail.defects)
    assert mail.text == "body"


def test_leading_blank_lines_and_bom_are_tolerated() -> None:
    mail = parse(b"\xef\xbb\xbf\r\n\r\nFrom: a@b.example\r\nSubject: hi\r\n\r\nbody")
    assert (mail.subject, mail.text) == ("hi", "body")


@pytest.mark.parametrize(
    ("raw", "unprocessable"),
    [
        (b"From: a@b.example\r\n\r\nbody", False),
        (b"Subject: no sender\r\n\r\nbody", True),
        (b"From: nobody\r\n\r\nbody", True),
        (b"From: nobody\r\nReply-To: r@b.example\r\n\r\nbody", False),
        (b"just some text without headers", True),
        (b"", True),
    ],
)
def test_is_unprocessable(raw: bytes, unprocessable: bool) -> None:
    assert (is_unprocessable(parse(raw)) is not None) is unprocessable


# --------------------------------------------------------------------------------------------
# Hypothesis: random MIME trees and corrupted corpus messages

CHARSETS = [
    "utf-8", "iso-8859-1", "windows-1252", "koi8-r", "shift_jis", "iso-2022-jp", "utf-16",
    "x-unknown", "", "utf-7", "big5", "ks_c_5601-1987", '"broken', "base64", "rot13",
]  # fmt: skip
ENCODINGS = ["7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "bogus", ""]
LEAF_TYPES = [
    "text/plain", "text/html", "text/calendar", "image/png", "application/pdf",
    "application/ms-tnef", "text/rfc822-headers", "message/delivery-status", "text/enriched",
]  # fmt: skip
HOSTILE_HTML = [
    "<script>alert(1)</script>", '<img src="http://t.example/x.gif" onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>', '<p onclick="x()">p</p>', "<style>*{}</style>",
    '<img src="cid:a@b">', "<iframe src=//evil></iframe>", "<svg onload=alert(1)>",
    "<!-- c -->", "<![CDATA[x]]>", "<title>t</title>", "&#0;&#xd800;",
]  # fmt: skip

header_text = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    st.builds(
        lambda cs, enc, b: f"=?{cs}?{enc}?{b.decode('latin-1')}?=",
        st.sampled_from(CHARSETS),
        st.sampled_from(["B", "Q", "b", "x"]),
        st.binary(max_size=20),
    ),
    st.sampled_from(
        ["Ann <ann@example.com>", "a@b, c@d", "<>", "undisclosed-recipients:;", "Mon, 1 Jan 99999"]
    ),
)
header_names = st.sampled_from(
    [
        "From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To",
        "References", "Auto-Submitted", "Precedence", "Content-ID", "X-Whatever",
        "Content-Disposition", "Return-Path",
    ]
)  # fmt: skip


def encode_body(data: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        return base64.encodebytes(data)
    if encoding == "quoted-printable":
        return quopri.encodestring(data)
    return data


@st.composite
def leaf(draw: st.DrawFn) -> bytes:
    content_type = draw(st.sampled_from(LEAF_TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    encoding = draw(st.sampled_from(ENCODINGS))
    if content_type == "text/html":
        pieces = draw(st.lists(st.sampled_from(HOSTILE_HTML) | st.text(max_size=20), max_size=6))
        data = "".join(pieces).encode("utf-8", "surrogatepass")
    else:
        data = draw(st.binary(max_size=200))
    headers = [f"Content-Type: {content_type}; charset={charset}"]
    if encoding:
        headers.append(f"Content-Transfer-Encoding: {encoding}")
    if draw(st.booleans()):
        disposition = draw(st.sampled_from(["attachment", "inline", "bogus"]))
        headers.append(f"Content-Disposition: {disposition}; filename={draw(header_text)}")
    if draw(st.booleans()):
        headers.append(f"Content-ID: <{draw(st.text(max_size=10))}>")
    head = "\r\n".join(headers).encode("utf-8", "surrogateescape")
    return head + b"\r\n\r\n" + encode_body(data, encoding)


def multipart(children: st.SearchStrategy[list[bytes]]) -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report", "signed"]))
        boundary = draw(st.sampled_from(["b1", "=_x", "a b", "", '"q"', "-" * 70]))
        parts = draw(children)
        extra = draw(st.sampled_from(["", "; report-type=delivery-status", "; start=<x>"]))
        head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"{extra}\r\n\r\n'
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
        if draw(st.booleans()):
            body += b"--" + boundary.encode() + b"--\r\n"
        return head.encode() + body

    return build()


mime_tree = st.recursive(
    leaf(),
    lambda inner: (
        multipart(st.lists(inner, max_size=4))
        | inner.map(lambda p: b"Content-Type: message/rfc822\r\n\r\n" + p)
    ),
    max_leaves=8,
)


@st.composite
def random_message(draw: st.DrawFn) -> bytes:
    headers = draw(st.lists(st.tuples(header_names, header_text), max_size=10))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    head_bytes = head.encode("utf-8", "surrogateescape")
    return head_bytes + b"MIME-Version: 1.0\r\n" + draw(mime_tree)


@SETTINGS
@given(raw=random_message(), limit=st.none() | st.integers(min_value=0, max_value=100))
def test_random_mime_messages_never_raise(raw: bytes, limit: int | None) -> None:
    mail = parse(raw, max_attachment_bytes=limit)
    assert_contract(mail)
    if limit is not None:
        assert all(len(a.data) <= limit for a in mail.attachments)


@st.composite
def corrupted(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(CORPUS)).read_bytes())
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
        at = draw(st.integers(min_value=0, max_value=max(0, len(data))))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and at < len(data):
            data[at] ^= draw(st.integers(min_value=1, max_value=255))
        elif kind == "insert":
            junk = draw(
                st.binary(max_size=30)
                | st.sampled_from(
                    [b"\r\n\r\n", b"\r\n--", b"=?utf-8?b?", b"\x00", b"<script>", b"Content-"]
                )
            )
            data[at:at] = junk
        else:
            del data[at : at + draw(st.integers(min_value=1, max_value=50))]
    return bytes(data)


@SETTINGS
@given(raw=corrupted())
def test_corrupted_corpus_messages_never_raise(raw: bytes) -> None:
    assert_contract(parse(raw))


@settings(max_examples=40, deadline=None)
@given(html=st.lists(st.sampled_from(HOSTILE_HTML) | st.text(max_size=30), max_size=8))
def test_sanitized_html_is_safe_before_and_after_allowing_images(html: list[str]) -> None:
    blocked = sanitize_mail_html("".join(html))
    assert_safe_html(blocked)
    allowed = allow_remote_images(blocked)
    assert "<script" not in allowed and "javascript:" not in allowed.lower()
    assert re.search(r"<[^>]*\son[a-z]+\s*=", allowed, re.IGNORECASE) is None


@settings(max_examples=40, deadline=None)
@given(subject=st.text(max_size=60))
def test_normalize_subject_is_idempotent(subject: str) -> None:
    once = normalize_subject(subject)
    assert normalize_subject(once) == once
    assert normalize_subject("Re: " + subject) == once


def test_parsing_an_email_package_message_round_trips() -> None:
    """A message built with the standard library reads back the same."""
    msg = message(Subject="Grüße \u2013 ünïcödé ✓")
    msg.set_content("Body ✓")
    raw = msg.as_bytes(policy=email.policy.SMTP)
    mail = parse(raw)
    assert mail.subject == "Grüße \u2013 ünïcödé ✓"
    assert mail.text == "Body ✓"
    assert not mail.defects
    assert email.message_from_bytes(raw, policy=email.policy.default)["subject"] == mail.subject
