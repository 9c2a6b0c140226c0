"""HTML reply extraction for the header shapes of more languages and clients: the same shapes
the plain-text rules know, as Outlook (desktop, web, Outlook.com), Gmail, Yahoo, Apple Mail,
Samsung and other phone clients write them in HTML. Mails of our own making."""

# ruff: noqa: RUF001  (hand-written cases in other languages)

from __future__ import annotations

import pytest

from patron.mail.quotes import split_html
from tests.mail.quotes.helpers import _letters
from tests.mail.quotes.test_html import _visible

OLD = "<p>Hello Anna, please restart the unit.</p>"


def _assert_cut(html: str, reply: str) -> None:
    """The reply is exactly `reply` (as visible text) and the old mail went to the quote."""
    split = split_html(html)
    assert _visible(split.reply) == reply
    assert "please restart the unit." in _visible(split.quoted)


# Outlook desktop: the header sits in a <div> with a top border, names in bold.
OUTLOOK_NAMES = {
    "it": ("Da", "Inviato", "A", "Oggetto"),
    "pt": ("De", "Enviado", "Para", "Assunto"),
    "pl": ("Od", "Wysłano", "Do", "Temat"),
    "nl": ("Van", "Verzonden", "Aan", "Onderwerp"),
    "sv": ("Från", "Skickat", "Till", "Ämne"),
    "cs": ("Od", "Odesláno", "Komu", "Předmět"),
    "hu": ("Feladó", "Elküldve", "Címzett", "Tárgy"),
    "ro": ("De la", "Trimis", "Către", "Subiect"),
    "tr": ("Kimden", "Gönderildi", "Kime", "Konu"),
    "fi": ("Lähettäjä", "Lähetetty", "Vastaanottaja", "Aihe"),
    "el": ("Από", "Στάλθηκε", "Προς", "Θέμα"),
    "vi": ("Từ", "Đã gửi", "Đến", "Chủ đề"),
    "uk": ("Від", "Надіслано", "Кому", "Тема"),
    "ko": ("보낸 사람", "보낸 날짜", "받는 사람", "제목"),
    "ja": ("差出人", "送信日時", "宛先", "件名"),
    "zh": ("发件人", "发送时间", "收件人", "主题"),
    "ar": ("من", "تم الإرسال", "إلى", "الموضوع"),
}


def _outlook_block(names: tuple[str, str, str, str], *, border: bool) -> str:
    sender, sent, to, subject = names
    style = ' style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"'
    return (
        f'<div{style if border else ""}><p class="MsoNormal"><b>{sender}:</b> Support '
        f"&lt;help@example.com&gt;<br><b>{sent}:</b> 6.1.2025 10:00<br><b>{to}:</b> Anna<br>"
        f"<b>{subject}:</b> RE: x</p></div>"
    )


@pytest.mark.parametrize("border", [True, False], ids=["border-top", "no-border"])
@pytest.mark.parametrize("language", OUTLOOK_NAMES)
def test_outlook_desktop_header_block(language: str, border: bool) -> None:
    html = (
        '<div class="WordSection1"><p class="MsoNormal">Thanks, received.</p>'
        f"{_outlook_block(OUTLOOK_NAMES[language], border=border)}{OLD}</div>"
    )
    _assert_cut(html, "Thanks, received.")


@pytest.mark.parametrize("language", ["ja", "vi", "pl"])
def test_outlook_web_divrplyfwdmsg(language: str) -> None:
    sender, sent, to, subject = OUTLOOK_NAMES[language]
    html = (
        '<div dir="ltr">Thanks, received.</div><hr style="display:inline-block;width:98%">'
        f'<div id="divRplyFwdMsg" dir="ltr"><b>{sender}:</b> Support<br><b>{sent}:</b> '
        f"6.1.2025<br><b>{to}:</b> Anna<br><b>{subject}:</b> x</div>{OLD}"
    )
    _assert_cut(html, "Thanks, received.")


def test_outlook_com_header_with_dates_first_and_no_rule() -> None:
    """Outlook.com (Hotmail) in French: "Envoyé le" and no space before some colons."""
    html = (
        "<div>Merci, bien reçu.</div><div><b>Envoyé le :</b>lundi 6 janvier 2025 10:00<br>"
        "<b>De :</b>Support&lt;help@example.com&gt;<br><b>À :</b>anna@example.org<br>"
        f"<b>Objet :</b>Appareil en panne</div>{OLD}"
    )
    _assert_cut(html, "Merci, bien reçu.")


ATTRIBUTIONS = {
    "el": "Στις Δευ 6 Ιαν 2025 στις 10:00 π.μ., ο χρήστης Support &lt;help@example.com&gt; έγραψε:",
    "ro": "lun., 6 ian. 2025, 10:00 Support &lt;help@example.com&gt; a scris:",
    "vi": "Vào Th 2, 6 thg 1, 2025 vào lúc 10:00 Support &lt;help@example.com&gt; đã viết:",
    "ko": "2025. 1. 6. 오전 10:00, Support &lt;help@example.com&gt; 작성:",
    "ca": "El dl., 6 de gen. 2025 a les 10:00, Support &lt;help@example.com&gt; ha escrit:",
    "undated": "Support &lt;help@example.com&gt; schrieb:",
}


@pytest.mark.parametrize("language", ATTRIBUTIONS)
def test_unmarked_attribution_above_a_blockquote(language: str) -> None:
    html = (
        f"<div>Thanks, received.</div><div>{ATTRIBUTIONS[language]}</div>"
        f"<blockquote>{OLD}</blockquote>"
    )
    _assert_cut(html, "Thanks, received.")


@pytest.mark.parametrize("language", ["ko", "el", "vi"])
def test_apple_mail_cite_blockquote(language: str) -> None:
    html = (
        '<html><body dir="auto"><div dir="ltr">Thanks, received.</div><div dir="ltr"><br>'
        f'<blockquote type="cite">{ATTRIBUTIONS[language]}<br><br></blockquote></div>'
        f'<blockquote type="cite"><div dir="ltr">{OLD}</div></blockquote></body></html>'
    )
    _assert_cut(html, "Thanks, received.")


@pytest.mark.parametrize(
    "marker",
    [
        "-------- Original message --------",
        "-------- Messaggio originale --------",
        "-----Original-Nachricht-----",
        "-------- Wiadomość oryginalna --------",
        "-------- Původní zpráva --------",
        "-------- 元のメッセージ --------",
    ],
)
def test_samsung_original_message_block(marker: str) -> None:
    """Samsung and other Android mail apps: the signature div, then the marker and headers."""
    html = (
        '<div dir="auto">Thanks, received.</div><div dir="auto"><br></div>'
        '<div id="composer_signature" dir="auto"><div style="font-size:85%">Sent from my Galaxy'
        '</div></div><div dir="auto"><br></div><div style="font-size:100%;color:#000000">'
        f"<div>{marker}</div><div>From: Support &lt;help@example.com&gt; </div>"
        "<div>Date: 06/01/2025 10:00 (GMT+01:00) </div><div>To: Anna </div>"
        f"<div>Subject: x </div><div><br></div>{OLD}</div>"
    )
    split = split_html(html)
    assert _visible(split.reply) == "Thanks, received."
    assert "please restart the unit." in _visible(split.quoted)
    assert _letters(_visible(html)) == _letters(_visible(split.reply) + _visible(split.quoted))


@pytest.mark.parametrize("client", ["gmail", "yahoo"])
def test_marked_quotes_in_another_language(client: str) -> None:
    attribution = ATTRIBUTIONS["vi"]
    if client == "gmail":
        quote = (
            f'<div class="gmail_quote"><div dir="ltr" class="gmail_attr">{attribution}<br></div>'
            f'<blockquote class="gmail_quote">{OLD}</blockquote></div>'
        )
    else:
        quote = (
            f'<div id="ydp1yahoo_quoted_9" class="ydp1yahoo_quoted"><div>{attribution}</div>'
            f"<blockquote>{OLD}</blockquote></div>"
        )
    _assert_cut(f'<div dir="ltr">Cảm ơn, đã nhận.</div>{quote}', "Cảm ơn, đã nhận.")


def test_phone_signature_above_an_unmarked_original() -> None:
    html = (
        "<div>Thanks, received.</div><div><br></div><div>Verzonden vanuit Outlook voor iOS</div>"
        f"<div><br></div><div>Support &lt;help@example.com&gt; wrote:</div>{OLD}"
    )
    _assert_cut(html, "Thanks, received.")


def test_header_words_in_a_paragraph_stay() -> None:
    html = "<p>From: the warehouse. To: the shop. Subject: to delays, as usual.</p><p>Anna</p>"
    assert split_html(html).reply == html
