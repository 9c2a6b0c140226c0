# ruff: noqa: RUF001  (Greek mail on purpose: the text rules know no Greek attribution)
"""`reply_parts`, the one split the ingest and the benchmark share: the cut is found on the HTML
as it came, and each part is sanitized after it."""

from __future__ import annotations

from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from patron.mail.parsing import ReplyParts, parse, reply_parts
from patron.mail.quotes import Split

GMAIL_QUOTE = (
    '<div dir="ltr">New text</div><div class="gmail_quote"><div class="gmail_attr">Στις Δευ, '
    "23 Νοε 2026, ο/η Support &lt;s@desk.example&gt; έγραψε:<br></div><blockquote>Old text"
    "</blockquote></div>"
)


def test_the_cut_uses_the_markup_sanitizing_strips() -> None:
    parts = reply_parts(GMAIL_QUOTE, "")
    assert parts.html.reply == '<div dir="ltr">New text</div>'
    assert "έγραψε" in parts.html.quoted and "Old text" in parts.html.quoted
    assert "class=" not in parts.html.quoted  # sanitized after the cut
    assert parts.text == Split("New text", parts.text.quoted)
    assert "Old text" in parts.text.quoted


def test_an_attribution_the_html_marks_leaves_the_plain_text_reply_too() -> None:
    text = "New text\n\nΣτις Δευ, 23 Νοε 2026, ο/η Support <s@desk.example> έγραψε:\n\n> Old text\n"
    parts = reply_parts(GMAIL_QUOTE, text)
    assert parts.text.reply == "New text"
    assert parts.text.quoted.startswith("Στις Δευ") and "> Old text" in parts.text.quoted


def test_without_html_the_text_rules_alone_split() -> None:
    parts = reply_parts("", "Fine.\n\nOn Mon, 6 Jan 2025, Bob wrote:\n> Old\n")
    assert parts == ReplyParts(text=Split("Fine.", "On Mon, 6 Jan 2025, Bob wrote:\n> Old"))


def test_only_a_quote_is_kept_whole_and_sanitized() -> None:
    parts = reply_parts('<blockquote onclick="x()">Only old</blockquote>', "")
    assert parts.html == Split("<blockquote>Only old</blockquote>", "")


def test_a_parse_without_html_has_empty_parts() -> None:
    parsed = parse(b"From: a@b.example\nSubject: x\n\nHello\n")
    assert parsed.reply.html == Split("", "")
    assert parsed.reply.text.reply == "Hello"


_PIECES = st.sampled_from(
    [
        "<div>", "</div>", "<blockquote>", "</blockquote>", '<div class="gmail_quote">',
        '<div id="divRplyFwdMsg">', '<blockquote type="cite">', "<hr>", "On Mon, Bob wrote:",
        "<script>alert(1)</script>", '<img src="x" onerror="alert(1)">', "<style>p{}</style>",
        '<a href="javascript:alert(1)">l</a>', '<a href=" JaVaScRiPt:alert(1)">l</a>',
        "<iframe src=https://evil.example>", '<svg onload="alert(1)">', "<!--", "-->", "<",
        '<div style="background:url(javascript:x)">', "<b>From:</b> a<br><b>Sent:</b> b<br>",
    ]
)  # fmt: skip


class _Unsafe(HTMLParser):
    """What a browser would run or load in a fragment: tags, handlers, styles, link schemes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "iframe", "svg", "object", "embed", "form", "meta"):
            self.found.append(tag)
        for name, value in attrs:
            url = (value or "").strip().lower()
            if name.startswith("on") or name == "style":
                self.found.append(f"{tag} {name}")
            elif name in ("href", "src") and not url.startswith(("https:", "http:", "mailto:")):
                self.found.append(f"{tag} {name}={url}")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=12)), max_size=30))
def test_both_parts_are_always_sanitized(pieces: list[str]) -> None:
    parts = reply_parts("".join(pieces), "")
    for html in (parts.html.reply, parts.html.quoted):
        checker = _Unsafe()
        checker.feed(html)
        checker.close()
        assert not checker.found, html
