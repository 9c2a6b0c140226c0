"""The MIME walk: transfer encodings, the body among the alternatives, attachments."""

from __future__ import annotations

import quopri

import pytest

from patron.mail.parsing import parse, sanitize_filename
from tests.mail.parsing.helpers import message, raw_mail

# --------------------------------------------------------------------------------------------
# Transfer encodings


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
# Bodies


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
