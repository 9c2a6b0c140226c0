"""HTML from mail, chat and forms keeps its formatting and loses anything that could run."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.core.html import sanitize_html


def test_it_removes_a_script_and_its_content() -> None:
    assert sanitize_html("<p>Hi<script>alert(1)</script></p>") == "<p>Hi</p>"


def test_it_removes_a_style_tag_and_its_content() -> None:
    assert sanitize_html("<style>body{display:none}</style><p>Hi</p>") == "<p>Hi</p>"


def test_it_removes_style_attributes() -> None:
    assert sanitize_html('<p style="background:url(javascript:x)">Hi</p>') == "<p>Hi</p>"


@pytest.mark.parametrize(
    "html",
    [
        '<img src="cat.png" onerror="alert(1)">',
        '<p onclick="alert(1)">Hi</p>',
        '<a href="https://example.com" onmouseover="alert(1)">x</a>',
        "<div ONLOAD=alert(1)>x</div>",
    ],
)
def test_it_removes_event_handlers(html: str) -> None:
    assert re.search(r"\son\w+\s*=", sanitize_html(html), re.IGNORECASE) is None


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\nscript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    ],
)
def test_it_removes_links_to_scripts(href: str) -> None:
    cleaned = sanitize_html(f'<a href="{href}">Click</a>')

    assert "href" not in cleaned
    assert "Click" in cleaned


@pytest.mark.parametrize("tag", ["iframe", "object", "embed", "form", "svg", "math"])
def test_it_removes_tags_that_embed_or_submit(tag: str) -> None:
    assert f"<{tag}" not in sanitize_html(f"<{tag}>x</{tag}><p>ok</p>")


def test_it_keeps_formatting() -> None:
    html = (
        "<h2>Order</h2><p><strong>Bold</strong>, <em>italic</em>, <u>under</u></p>"
        "<ul><li>one</li></ul><blockquote>quoted</blockquote><pre><code>x = 1</code></pre>"
        '<table><tbody><tr><td colspan="2">cell</td></tr></tbody></table>'
    )

    assert sanitize_html(html) == html


def test_it_keeps_safe_links_and_marks_them_nofollow() -> None:
    cleaned = sanitize_html('<a href="https://example.com/a?b=1" title="Docs">docs</a>')

    assert cleaned == (
        '<a href="https://example.com/a?b=1" title="Docs" rel="noopener noreferrer nofollow">'
        "docs</a>"
    )


def test_it_keeps_inline_images_by_content_id() -> None:
    assert sanitize_html('<img src="cid:logo@mail" alt="Logo">') == (
        '<img src="cid:logo@mail" alt="Logo">'
    )


def test_it_removes_comments() -> None:
    assert sanitize_html("<p>a<!-- <script>x</script> -->b</p>") == "<p>ab</p>"


def test_it_escapes_text_that_looks_like_a_tag() -> None:
    assert sanitize_html("1 < 2 &") == "1 &lt; 2 &amp;"


def test_it_returns_an_empty_string_for_nothing() -> None:
    assert sanitize_html("") == ""


FRAGMENTS = st.sampled_from(
    [
        "<script",
        "<SCRIPT",
        "<scr",
        "ipt",
        "<script>",
        "</script>",
        "<",
        ">",
        "/",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "\x00",
        '"',
        "'",
        "=",
        " ",
        "<svg>",
        "<style>",
        "<textarea>",
        "<noscript>",
        "&lt;",
        "<p ",
        "onload=",
    ]
)


@given(st.lists(st.one_of(FRAGMENTS, st.text(max_size=5)), max_size=30).map("".join))
def test_no_output_ever_contains_a_script_tag(html: str) -> None:
    assert "<script" not in sanitize_html(html).lower()
