"""Mail HTML: sanitizing, remote and cid: images, text from HTML."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.mail.parsing import (
    allow_remote_images,
    html_to_text,
    parse,
    rewrite_cid,
    sanitize_mail_html,
)
from tests.mail.parsing.helpers import HOSTILE_HTML, assert_safe_html, message

# --------------------------------------------------------------------------------------------
# HTML


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
    html_part = list(msg.iter_parts())[1]
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


@settings(max_examples=40, deadline=None)
@given(html=st.lists(st.sampled_from(HOSTILE_HTML) | st.text(max_size=30), max_size=8))
def test_sanitized_html_is_safe_before_and_after_allowing_images(html: list[str]) -> None:
    blocked = sanitize_mail_html("".join(html))
    assert_safe_html(blocked)
    allowed = allow_remote_images(blocked)
    assert "<script" not in allowed and "javascript:" not in allowed.lower()
    assert re.search(r"<[^>]*\son[a-z]+\s*=", allowed, re.IGNORECASE) is None
