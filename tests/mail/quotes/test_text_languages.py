"""Plain-text reply extraction for the quote shapes of more languages and clients: one mail of
our own making per language or client shape, written from how those clients format a reply
(Gmail, Apple Mail, Thunderbird, Outlook desktop and web, Hotmail/Outlook.com, Samsung and
other phone mail apps, corporate mail gateways)."""

# ruff: noqa: RUF001  (hand-written cases in other languages)

from __future__ import annotations

import pytest

from patron.mail.quotes import split_text
from tests.mail.quotes.test_text import ATTRIBUTIONS as KNOWN_ATTRIBUTIONS

REPLY = "Thank you, it works now.\n\nBest,\nAnna"
QUOTE = "> Hello, can you help?\n>\n> Thanks\n"
OLD = "Hello Anna,\nplease restart the unit.\n"

# --- "On <date>, <name> wrote:" in more languages -------------------------------------------------

ATTRIBUTIONS = {
    "ca": "El dl., 6 de gen. 2025 a les 10:00, Support <help@example.com> ha escrit:",
    "pl-thunderbird": "W dniu 6.01.2025 o 10:00, help@example.com pisze:",
    "pl-gmail": "W dniu pon., 6 sty 2025 o 10:00 Support <help@example.com> napisała:",
    "ro": "lun., 6 ian. 2025, 10:00 Support <help@example.com> a scris:",
    "el": "Στις Δευ 6 Ιαν 2025 στις 10:00 π.μ., ο χρήστης Support <help@example.com> έγραψε:",
    "ar": "في الاثنين، ٦ يناير ٢٠٢٥ ١٠:٠٠ ص Support <help@example.com> كتب:",
    "vi": "Vào Th 2, 6 thg 1, 2025 vào lúc 10:00 Support <help@example.com> đã viết:",
    "uk": "пн, 6 січ. 2025 р. о 10:00 Support <help@example.com> написав:",
    "ko-apple": "2025. 1. 6. 오전 10:00, Support <help@example.com> 작성:",
    "ja-apple": "2025/01/06 10:00、Support <help@example.com> のメッセージ:",
    "zh-apple": "在 2025年1月6日，上午10:00，Support <help@example.com> 写道：",
    "zh-gmail": "Support <help@example.com> 于2025年1月6日周一 10:00写道：",
    "da": "man. 6. jan. 2025 kl. 10.00 skrev Support <help@example.com>:",
    "date-first": "2025-01-06 10:00 GMT+01:00 Support <help@example.com>:",
}


@pytest.mark.parametrize("language", ATTRIBUTIONS)
def test_attribution_above_a_quote_is_removed(language: str) -> None:
    header = ATTRIBUTIONS[language]
    split = split_text(f"{REPLY}\n\n{header}\n{QUOTE}")
    assert split.reply == REPLY
    assert split.quoted.startswith(header)


@pytest.mark.parametrize("header", [*ATTRIBUTIONS.values(), *KNOWN_ATTRIBUTIONS.values()])
def test_attribution_above_unquoted_history_is_cut(header: str) -> None:
    """Outlook and some phone apps put the original below the header without ">"."""
    split = split_text(f"{REPLY}\n\n{header}\n\n{OLD}")
    assert split.reply == REPLY
    assert "please restart the unit." in split.quoted


@pytest.mark.parametrize(
    "header",
    [
        "Support <help@example.com> schrieb:",
        "help@example.com wrote:",
        "Support Team <help@example.com> wrote:",
    ],
)
def test_attribution_without_a_date(header: str) -> None:
    split = split_text(f"{REPLY}\n\n{header}\n\n{OLD}")
    assert split.reply == REPLY


def test_attribution_with_the_address_wrapped() -> None:
    header = "Op 6 januari 2025 10:00 schreef Support Team <\nhelp@example.com>:"
    body = f"{REPLY}\n\n{header}\n\n{QUOTE}"
    assert split_text(body).reply == REPLY


def test_attribution_missing_its_colon_above_a_header_block() -> None:
    body = (
        f"{REPLY}\nAm 06.01.25 um 10:00 schrieb Support Team\nVon: Support <help@example.com>\n"
        f"Datum: 6. Januar 2025\nAn: Anna\n\n{OLD}"
    )
    assert split_text(body).reply == REPLY


# --- Outlook header blocks in more languages ------------------------------------------------------

OUTLOOK_HEADERS = {
    "it": "Da: Support <help@example.com>\nInviato: lunedì 6 gennaio 2025 10:00\n"
    "A: Anna <anna@example.org>\nOggetto: R: Guasto",
    "pt": "De: Support <help@example.com>\nEnviado: segunda-feira, 6 de janeiro de 2025 10:00\n"
    "Para: Anna <anna@example.org>\nAssunto: RE: Avaria",
    "pl": "Od: Support <help@example.com>\nWysłano: poniedziałek, 6 stycznia 2025 10:00\n"
    "Do: Anna <anna@example.org>\nTemat: RE: Awaria",
    "sv": "Från: Support <help@example.com>\nSkickat: den 6 januari 2025 10:00\n"
    "Till: Anna <anna@example.org>\nÄmne: SV: Fel",
    "da": "Fra: Support <help@example.com>\nSendt: 6. januar 2025 10:00\n"
    "Til: Anna <anna@example.org>\nEmne: SV: Fejl",
    "cs": "Od: Support <help@example.com>\nOdesláno: pondělí 6. ledna 2025 10:00\n"
    "Komu: Anna <anna@example.org>\nPředmět: RE: Porucha",
    "hu": "Feladó: Support <help@example.com>\nElküldve: 2025. január 6. 10:00\n"
    "Címzett: Anna <anna@example.org>\nTárgy: RE: Hiba",
    "ro": "De la: Support <help@example.com>\nTrimis: luni, 6 ianuarie 2025 10:00\n"
    "Către: Anna <anna@example.org>\nSubiect: RE: Defect",
    "tr": "Kimden: Support <help@example.com>\nGönderildi: 6 Ocak 2025 Pazartesi 10:00\n"
    "Kime: Anna <anna@example.org>\nKonu: YNT: Arıza",
    "fi": "Lähettäjä: Support <help@example.com>\nLähetetty: maanantai 6. tammikuuta 2025 10.00\n"
    "Vastaanottaja: Anna <anna@example.org>\nAihe: VS: Vika",
    "el": "Από: Support <help@example.com>\nΣτάλθηκε: Δευτέρα, 6 Ιανουαρίου 2025 10:00 πμ\n"
    "Προς: Anna <anna@example.org>\nΘέμα: RE: Βλάβη",
    "vi": "Từ: Support <help@example.com>\nĐã gửi: Thứ Hai, ngày 6 tháng 1 năm 2025 10:00\n"
    "Đến: Anna <anna@example.org>\nChủ đề: RE: Lỗi",
    "uk": "Від: Support <help@example.com>\nНадіслано: 6 січня 2025 р. 10:00\n"
    "Кому: Anna <anna@example.org>\nТема: RE: Несправність",
    "ko": "보낸 사람: Support <help@example.com>\n보낸 날짜: 2025년 1월 6일 월요일 오전 10:00\n"
    "받는 사람: Anna <anna@example.org>\n제목: RE: 고장",
    "ja": "差出人: Support <help@example.com>\n送信日時: 2025年1月6日 10:00\n"
    "宛先: Anna <anna@example.org>\n件名: RE: 故障",
    "zh": "发件人: Support <help@example.com>\n发送时间: 2025年1月6日 10:00\n"
    "收件人: Anna <anna@example.org>\n主题: 回复: 故障",
    "ar": "من: Support <help@example.com>\n"
    "\u200f\u200fتم الإرسال: Monday, January 6, 2025 10:00 AM\n"
    "إلى: Anna <anna@example.org>\n\u200f\u200fالموضوع: RE: عطل",
    "fr-hotmail": "De : Support<mailto:help@example.com>\nEnvoyé le :lundi 6 janvier 2025 10:00\n"
    "À : anna@example.org<mailto:anna@example.org>\nObjet :Appareil en panne",
    "es-hotmail": "De: Support <help@example.com>\nEnviado el: lunes, 6 de enero de 2025 10:00\n"
    "Para: Anna <anna@example.org>\nAsunto: RE: Avería",
    "en-date-first": "Sent: Monday, January 6, 2025 10:00 AM\nFrom: Support <help@example.com>\n"
    "To: Anna <anna@example.org>\nSubject: RE: Broken unit",
    "de-date-first": "Gesendet: Montag, 6. Januar 2025 um 10:00 Uhr\n"
    "Von: Support <help@example.com>\n"
    "An: Anna <anna@example.org>\nBetreff: AW: Gerät defekt",
}


@pytest.mark.parametrize("language", OUTLOOK_HEADERS)
def test_outlook_header_block_is_cut(language: str) -> None:
    split = split_text(f"{REPLY}\n\n{OUTLOOK_HEADERS[language]}\n\n{OLD}")
    assert split.reply == REPLY
    assert "please restart the unit." in split.quoted


@pytest.mark.parametrize(
    "line",
    [
        'Temat: RE: Awaria 2025-01-06 10:00Nadawca: "Support" help@example.com Adresat:',
        "From: Support <help@example.com> Sent: Monday, 6 January 2025 10:00 To: Anna "
        "Subject: RE: Broken unit",
    ],
)
def test_header_block_flattened_onto_one_line_is_cut(line: str) -> None:
    split = split_text(f"{REPLY}\n{line}\n{OLD}")
    assert split.reply == REPLY


# --- forwards and "original message" separators -------------------------------------------------

FORWARD_MARKERS = [
    "-------- Original message --------",  # Samsung, Android mail apps
    "-----Original-Nachricht-----",
    "-------- Messaggio originale --------",
    "-------- Oorspronkelijk bericht --------",
    "-------- Wiadomość oryginalna --------",
    "-------- Původní zpráva --------",
    "-------- Eredeti üzenet --------",
    "-------- Mesaj original --------",
    "-------- Alkuperäinen viesti --------",
    "-------- Αρχικό μήνυμα --------",
    "-------- Thư gốc --------",
    "-------- 원본 메시지 --------",
    "-------- 元のメッセージ --------",
    "-------- Mensagem original --------",
]


@pytest.mark.parametrize("marker", FORWARD_MARKERS)
def test_original_message_separator_is_cut(marker: str) -> None:
    body = f"{REPLY}\n\n{marker}\nFrom: Support <help@example.com>\nDate: 6/1/25 10:00\n\n{OLD}"
    assert split_text(body).reply == REPLY


def test_separator_with_the_header_on_the_same_line() -> None:
    body = (
        f"{REPLY}\n-------- Ursprüngliche Nachricht --------Von: Support  Datum: 06.01.25 10:00"
        f"  (GMT+01:00) An: Anna Betreff: Rücksendung\n\n{OLD}"
    )
    assert split_text(body).reply == REPLY


# --- signatures after the reply -----------------------------------------------------------------

DEVICE_SIGNATURES = [
    "Sent from my Galaxy",
    "Sent from Mail for Windows",
    "Sent from Outlook for iOS",
    "Wysłane z iPhone'a",
    "Odesláno z iPhonu",
    "Az iPhone-omról küldve",
    "Trimis de pe iPhone-ul meu",
    "iPhone'umdan gönderildi",
    "Lähetetty iPhonesta",
    "Στάλθηκε από το iPhone μου",
    "Được gửi từ iPhone của tôi",
    "iPhone에서 보냄",
    "Надіслано з iPhone",
    "Verzonden vanuit Outlook voor iOS",
    "Inviato da iPhone",
    "Enviado do meu iPhone",
    "Skickat från min iPhone",
]


@pytest.mark.parametrize("signature", DEVICE_SIGNATURES)
def test_device_signature_at_the_end_is_removed(signature: str) -> None:
    split = split_text(f"{REPLY}\n\n{signature}\n")
    assert split.reply == REPLY
    assert split.quoted == signature


@pytest.mark.parametrize("signature", DEVICE_SIGNATURES)
def test_device_signature_above_an_unmarked_original_ends_the_reply(signature: str) -> None:
    """Phone apps put the original right below their signature, often with no header."""
    split = split_text(f"{REPLY}\n\n{signature}\n\n{OLD}")
    assert split.reply == REPLY
    assert "please restart the unit." in split.quoted


def test_device_signature_opening_the_message_is_dropped() -> None:
    split = split_text(f"Sent from my iPhone\n\n{REPLY}\n")
    assert split.reply == REPLY


def test_dotted_footer_rule_is_a_delimiter() -> None:
    body = f"{REPLY}\n\n**. . . . . . . . . .**\n\nACME Ltd. is a registered company.\n[REF-123]\n"
    assert split_text(body).reply == REPLY


# --- the rest -----------------------------------------------------------------------------------


def test_quoted_line_wrapped_without_its_marker_stays_in_the_quote() -> None:
    body = (
        f"{REPLY}\n\nOn Mon, Jan 6, 2025 at 10:00 AM Support <help@example.com> wrote:\n\n"
        "> Please restart the unit and tell us whether the light turns green or stays\n"
        "red after a minute.\n>\n"
    )
    assert split_text(body).reply == REPLY


def test_lines_of_invisible_marks_are_blank() -> None:
    body = (
        f"{REPLY}\n\nOn Mon, Jan 6, 2025 at 10:00 AM Support <help@example.com> wrote:\n"
        f"\u200b\n\n{OLD}"
    )
    assert split_text(body).reply == REPLY


@pytest.mark.parametrize(
    "banner",
    [
        "CAUTION: This email originated from outside of the organization. Do not click links "
        "or open attachments unless you recognize the sender.",
        "[EXTERNAL] This message is from an external sender.",
        "ACHTUNG: Diese E-Mail stammt von einem externen Absender.",
    ],
)
def test_external_sender_banner_opening_the_message_is_dropped(banner: str) -> None:
    split = split_text(f"{banner}\n\n{REPLY}\n")
    assert split.reply == REPLY
    assert split.quoted == banner


# --- text that only looks like history stays ------------------------------------------------

NOT_HISTORY = {
    "address-in-a-sentence": "Please write to help@example.com about it, they wrote back fast."
    "\n\nAnna",
    "date-and-verb-in-a-sentence": "Am 06.01.2025 um 10:00 schrieb ich Ihnen schon einmal.\n"
    "Bitte antworten Sie.\n",
    "header-words-in-a-sentence": "From: the warehouse. To: the shop. That is the route we use."
    "\n\nAnna",
    "loose-sent-line-with-text-after": "I filled in the form.\n"
    "Sent with the order number as you asked\n\nThe unit still fails.",
    "ellipsis-line": "First thing.\n...\nSecond thing.\n\nAnna",
    "inline-answers-after-short-quotes": "Hi,\n\n> Which model?\nThe X200.\n\n"
    "> Since when?\nsince Monday.\n\nAnna",
    "caution-in-a-sentence": "Caution: the unit gets hot.\n\nPlease advise.\n\nAnna",
}


@pytest.mark.parametrize("case", NOT_HISTORY)
def test_text_that_only_looks_like_history_stays(case: str) -> None:
    body = NOT_HISTORY[case]
    assert split_text(body).reply == body.strip()
