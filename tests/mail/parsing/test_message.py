"""`parse` and `is_unprocessable`: the whole corpus, hostile input, random and corrupted MIME."""

from __future__ import annotations

import base64
import email
import email.policy
import quopri
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.mail.parsing import Address, Bounce, is_unprocessable, parse
from tests.mail.parsing.helpers import (
    CORPUS,
    FIXTURES,
    HOSTILE_HTML,
    SETTINGS,
    assert_contract,
    corpus,
    message,
)

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
