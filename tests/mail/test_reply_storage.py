# ruff: noqa: RUF001  (Greek mail on purpose: the text rules know no Greek attribution)
"""Real replies through the whole ingest: the message keeps what the customer wrote this time, the
InboundMail keeps the quoted history, and both are sanitized.

The quote splitter must see the mail's HTML as it came (sanitizing strips Gmail's `gmail_quote`
class, Outlook's `divRplyFwdMsg` id, Apple's `type="cite"`); what is stored is sanitized after
the cut, each part on its own. The mails are written here byte for byte, as each client sends.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from patron.mail import parsing
from patron.mail.models import InboundMail, Mailbox
from tests.mail.test_ingest import Capture, mailbox, receive

__all__ = ["mailbox"]  # the fixture

pytestmark = pytest.mark.django_db

HOSTILE_NEW = (
    '<script>alert("new")</script><img src="x" onerror="alert(1)">'
    '<a href="javascript:alert(2)" onclick="alert(3)">click</a>'
)
HOSTILE_OLD = (
    '<script>alert("old")</script><img src="y" onerror="alert(4)">'
    '<a href="javascript:alert(5)">old link</a><iframe src="https://evil.example/"></iframe>'
)

GMAIL = f"""\
From: Eleni Papadopoulou <eleni@customer.example>
To: Support <support@desk.example>
Subject: Re: Your invoice
Message-ID: <CAgmail1@mail.gmail.com>
In-Reply-To: <reply-1@desk.example>
Date: Mon, 23 Nov 2026 09:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="000000000000gmail"

--000000000000gmail
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: 8bit

Ευχαριστώ, το νέο τιμολόγιο είναι εντάξει.

Στις Δευ, 23 Νοε 2026 στις 8:00 π.μ., ο/η Support <support@desk.example> έγραψε:

> Ορίστε το διορθωμένο τιμολόγιο.
> Support

--000000000000gmail
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: 8bit

<div dir="ltr">Ευχαριστώ, το νέο τιμολόγιο είναι εντάξει.{HOSTILE_NEW}</div><br><div \
class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">Στις Δευ, 23 Νοε \
2026 στις 8:00 π.μ., ο/η Support &lt;<a href="mailto:support@desk.example">support@desk.example\
</a>&gt; έγραψε:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border\
-left:1px solid rgb(204,204,204);padding-left:1ex">Ορίστε το διορθωμένο τιμολόγιο.{HOSTILE_OLD}\
<br>Support</blockquote></div>

--000000000000gmail--
"""

# HTML only, as Outlook.com sends from some apps: the text is that of the new HTML part.
OUTLOOK = f"""\
From: Bo Lind <bo.lind@hotmail.example>
To: "support@desk.example" <support@desk.example>
Subject: RE: Delivery date
Message-ID: <AM0PR01MB0001@outlook.example>
Date: Mon, 23 Nov 2026 09:00:00 +0000
MIME-Version: 1.0
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: 8bit

<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><style \
type="text/css" style="display:none;"> P {{margin-top:0;margin-bottom:0;}} --</style></head>
<body dir="ltr"><div style="font-family: Calibri, Arial, Helvetica, sans-serif; font-size: 12pt;">
Η Παρασκευή μου ταιριάζει, ευχαριστώ.{HOSTILE_NEW}</div>
<div id="appendonsend"></div>
<hr style="display:inline-block;width:98%" tabindex="-1">
<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" \
color="#000000"><b>Από:</b> Support &lt;support@desk.example&gt;<br><b>Στάλθηκε:</b> Δευτέρα, \
23 Νοεμβρίου 2026 8:00 π.μ.<br><b>Προς:</b> Bo Lind &lt;bo.lind@hotmail.example&gt;<br><b>Θέμα:\
</b> Ημερομηνία παράδοσης</font><div>&nbsp;</div></div>
<div><p>Μπορούμε να παραδώσουμε την Παρασκευή;{HOSTILE_OLD}</p></div>
</body></html>
"""

APPLE = f"""\
From: Chen Wu <chen@customer.example>
To: support@desk.example
Subject: Re: Meeting
Message-Id: <A1B2C3D4-apple@customer.example>
Date: Mon, 23 Nov 2026 09:00:00 +0000
Mime-Version: 1.0 (Mac OS X Mail 16.0)
Content-Type: multipart/alternative; boundary="Apple-Mail=_0001"

--Apple-Mail=_0001
Content-Transfer-Encoding: 7bit
Content-Type: text/plain; charset=us-ascii

Sure, Tuesday works.

> On 23 Nov 2026, at 08:00, Support <support@desk.example> wrote:
>
> Can we meet next week?

--Apple-Mail=_0001
Content-Transfer-Encoding: 7bit
Content-Type: text/html; charset=us-ascii

<html><head><meta http-equiv="content-type" content="text/html; charset=us-ascii"></head><body \
style="overflow-wrap: break-word;">Sure, Tuesday works.{HOSTILE_NEW}<br><div><br><blockquote \
type="cite"><div>On 23 Nov 2026, at 08:00, Support &lt;support@desk.example&gt; wrote:</div><br \
class="Apple-interchange-newline"><div><div>Can we meet next week?{HOSTILE_OLD}</div></div>\
</blockquote></div><br></body></html>
--Apple-Mail=_0001--
"""

MAILS = {  # the raw mail, the new text, the start of the history
    "gmail": (GMAIL, "Ευχαριστώ, το νέο τιμολόγιο είναι εντάξει.", "Ορίστε το διορθωμένο"),
    "outlook.com": (OUTLOOK, "Η Παρασκευή μου ταιριάζει, ευχαριστώ.", "Μπορούμε να παραδώσουμε"),
    "apple mail": (APPLE, "Sure, Tuesday works.", "Can we meet next week?"),
}
# Greek attributions and headers: the text rules know neither, only the clients' markup does.
HISTORY = re.compile(r"wrote:|έγραψε|Από:|Στάλθηκε|διορθωμένο|παραδώσουμε|meet next week")


def assert_safe(html: str) -> None:
    """Nothing that runs: no script, no event handler, no javascript: link, no frame."""
    lowered = html.lower()
    for bad in ("<script", "alert(", "onerror", "onclick", "javascript:", "<iframe", "<style"):
        assert bad not in lowered, (bad, html)


@pytest.mark.parametrize("name", MAILS)
def test_the_message_keeps_the_new_text_and_the_mail_keeps_the_history(
    name: str, mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    raw, new, old = MAILS[name]
    stored = receive(django_capture_on_commit_callbacks, raw.encode(), mailbox, now)
    assert stored.state == InboundMail.State.PROCESSED, stored.reason
    message = stored.message
    assert message is not None
    for body in (message.body_text, message.body_html):
        assert new in body
        assert not HISTORY.search(body), body
    assert "click" in message.body_html  # the link's text stays, its script goes
    assert old in stored.quoted_html
    assert old in stored.quoted_text
    assert_safe(message.body_html)
    assert_safe(stored.quoted_html)


def test_the_one_function_sanitizes_both_parts_itself() -> None:
    """`reply_parts` returns no raw HTML: the new part and the quoted rest are each sanitized,
    whatever the ticket layer does after it."""
    for raw, new, old in MAILS.values():
        parsed = parsing.parse(raw.encode())
        html = parsed.reply.html
        assert new in html.reply and old in html.quoted
        assert_safe(html.reply)
        assert_safe(html.quoted)


def test_a_remote_image_stays_blocked_in_both_parts() -> None:
    html = (
        '<div>New <img src="https://track.example/a.png"></div><div class="gmail_quote">On Mon, '
        'X wrote:<blockquote>Old <img src="https://track.example/b.png"></blockquote></div>'
    )
    parts = parsing.reply_parts(html, "")
    assert 'data-remote-src="https://track.example/a.png"' in parts.html.reply
    assert 'data-remote-src="https://track.example/b.png"' in parts.html.quoted
    assert " src=" not in parts.html.reply + parts.html.quoted
    assert parts.text.reply == "New"  # no text/plain part: the text of the new HTML
    assert "Old" in parts.text.quoted
