"""HTML reply extraction: hand-written cases per mail client, and a property that must hold for
any input."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.mail.quotes import Split, split_html
from tests.mail.quotes.helpers import _letters

# --- HTML ----------------------------------------------------------------------------------------

HTML_CASES = {
    "gmail": (
        '<div dir="ltr">Thanks, that fixed it.<div><br></div><div>Anna</div></div><br>'
        '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Jan 6, 2025 at 10:00'
        " AM Support &lt;help@example.com&gt; wrote:<br></div>"
        '<blockquote class="gmail_quote" style="margin:0px">Please try again.</blockquote></div>',
        "Thanks, that fixed it.Anna",
        "Please try again.",
    ),
    "outlook-web": (
        '<div><p>Works now.</p></div><hr style="display:inline-block;width:98%" tabindex="-1">'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>From:</b> Support<br>'
        "<b>Sent:</b> Monday<br><b>To:</b> Anna<br><b>Subject:</b> Re: x</font></div>"
        "<div>Old text</div>",
        "Works now.",
        "Old text",
    ),
    "outlook-desktop-de": (
        '<div class="WordSection1"><p class="MsoNormal">Danke!</p><p class="MsoNormal">&nbsp;</p>'
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
        '<p class="MsoNormal"><b>Von:</b> Support &lt;s@example.de&gt;<br><b>Gesendet:</b> Montag,'
        " 6. Januar 2025 10:00<br><b>An:</b> Anna<br><b>Betreff:</b> Test</p></div>"
        '<p class="MsoNormal">Alter Text</p></div>',
        "Danke!",
        "Alter Text",
    ),
    "outlook-desktop-fr": (
        '<div><p class="MsoNormal">Merci.</p><div style="border:none;border-top:solid #E1E1E1'
        ' 1.0pt"><p class="MsoNormal"><b>De&nbsp;:</b> Support<br><b>Envoyé&nbsp;:</b> lundi 6'
        " janvier 2025<br><b>À&nbsp;:</b> Anna<br><b>Objet&nbsp;:</b> Test</p></div>"
        "<p>Ancien texte</p></div>",
        "Merci.",
        "Ancien texte",
    ),
    "apple": (
        '<html><body dir="auto">Sure, Tuesday works.<br><br><div dir="ltr">Sent from my iPhone'
        '</div><div dir="ltr"><br><blockquote type="cite">On 6 Jan 2025, at 10:00, Support'
        " &lt;help@example.com&gt; wrote:<br><br></blockquote></div>"
        '<blockquote type="cite"><div dir="ltr">Can we meet?</div></blockquote></body></html>',
        "Sure, Tuesday works.",
        "Can we meet?",
    ),
    "thunderbird": (
        '<p>Merci beaucoup.</p><div class="moz-cite-prefix">Le 06/01/2025 à 10:00, Support a'
        ' écrit&nbsp;:<br></div><blockquote type="cite" cite="mid:x">Bonjour</blockquote>',
        "Merci beaucoup.",
        "Bonjour",
    ),
    "yahoo": (
        '<div class="ydp1 yahoo-style-wrap"><div>Gracias.</div></div>'
        '<div id="ydp2yahoo_quoted_123" class="ydp2yahoo_quoted"><div>El lunes, 6 de enero de'
        " 2025, Support &lt;s@example.es&gt; escribió:</div><blockquote>Hola</blockquote></div>",
        "Gracias.",
        "Hola",
    ),
    "generic-blockquote": (
        "<p>Yes.</p><p>On Mon, Jan 6, 2025 at 10:00 AM Bob wrote:</p>"
        "<blockquote><p>Is it fixed?</p></blockquote>",
        "Yes.",
        "Is it fixed?",
    ),
    "signature-dashes": (
        "<div>See you.</div><div>-- </div><div>Anna Smith, ACME</div>",
        "See you.",
        "Anna Smith",
    ),
}


@pytest.mark.parametrize("client", HTML_CASES)
def test_html_reply_and_quote(client: str) -> None:
    html, reply_text, quoted_text = HTML_CASES[client]
    split = split_html(html)
    assert _visible(split.reply) == reply_text
    assert quoted_text in _visible(split.quoted)
    assert _letters(_visible(html)) == _letters(_visible(split.reply) + _visible(split.quoted))


def test_html_inline_answers_stay() -> None:
    html = (
        "<div>See below.</div><blockquote>Question one?</blockquote><div>Answer one.</div>"
        "<blockquote>Question two?</blockquote><div>Answer two.</div>"
    )
    assert split_html(html) == Split(reply=html, quoted="")


def test_html_trailing_quote_after_inline_answers_goes() -> None:
    html = (
        "<div>See below.</div><blockquote>Question one?</blockquote><div>Answer one.</div>"
        "<blockquote>Old signature</blockquote>"
    )
    split = split_html(html)
    assert _visible(split.reply) == "See below.Question one?Answer one."
    assert _visible(split.quoted) == "Old signature"


def test_html_without_history_is_unchanged() -> None:
    html = "<p>Just text &amp; more.</p>"
    assert split_html(html) == Split(reply=html, quoted="")


def test_html_only_a_quote_is_kept() -> None:
    html = '<div class="gmail_quote"><blockquote>Forwarded text</blockquote></div>'
    assert split_html(html).reply == html


def test_html_output_is_well_formed() -> None:
    html, _, _ = HTML_CASES["outlook-desktop-de"]
    split = split_html(html)
    assert split.reply.count("<div") == split.reply.count("</div>")
    assert split.reply.endswith("</div>")


def test_html_deeply_nested_is_handled() -> None:
    html = "<div>" * 2000 + "Thanks" + "</div>" * 2000 + "<blockquote>" * 500 + "old"
    html += "</blockquote>" * 500
    started = time.perf_counter()
    split = split_html(html)
    assert _visible(split.reply) == "Thanks"
    assert _visible(split.quoted) == "old"
    assert time.perf_counter() - started < 5


def _visible(html: str) -> str:
    text = re.sub(r"<[^>]*>", "", html)
    for entity, char in (("&nbsp;", "\u00a0"), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")):
        text = text.replace(entity, char)
    return text.strip()


# --- properties ----------------------------------------------------------------------------------

_TAGS = st.sampled_from(
    [
        "<div>",
        "</div>",
        "<p>",
        "</p>",
        "<br>",
        "<hr>",
        "<blockquote>",
        "</blockquote>",
        '<blockquote type="cite">',
        '<div class="gmail_quote">',
        '<div id="divRplyFwdMsg">',
        '<div class="moz-cite-prefix">',
        "<b>From:</b> Bob<br><b>Sent:</b> Monday 6 January 2025<br><b>To:</b> Anna",
        "On Mon, Jan 6, 2025 at 10:00 AM Bob wrote:",
        "-- ",
        "Hello &amp; bye",
        "Sent from my iPhone",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_TAGS, st.text(max_size=20)), max_size=25))
def test_split_html_never_raises(pieces: list[str]) -> None:
    html = "".join(pieces)
    split = split_html(html)
    assert isinstance(split.reply, str)
    assert isinstance(split.quoted, str)


# --- raw HTML: what sanitizing drops with its content is no reply and no cut -------------------


def test_html_styles_scripts_and_the_head_are_not_read_for_the_cut() -> None:
    """The splitter reads mail as it came: a "--" in a stylesheet, a "From:" in a script or
    an unclosed head are not text, so they neither cut nor count as the reply."""
    html = (
        "<html><head><title>From: x</title><style>p {margin:0} --</style>"
        "<body><div>Works now.</div><script>var s = 'On Mon, Bob wrote:';</script>"
        '<div class="gmail_quote">On Mon, Jan 6, 2025 Bob wrote:<blockquote>Old</blockquote>'
        "</div></body></html>"
    )
    split = split_html(html)
    assert _visible(split.reply) == "Works now."
    assert "Old" in split.quoted and "margin" not in split.reply + split.quoted


def test_html_an_unclosed_head_ends_at_the_body() -> None:
    split = split_html("<head><style>x</style><body><p>Hi</p><blockquote>Old</blockquote>")
    assert _visible(split.reply) == "Hi"
    assert _visible(split.quoted) == "Old"
