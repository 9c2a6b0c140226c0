"""Plain-text reply extraction: the fixtures of three public parsers, hand-written cases per
language, and properties that must hold for any input.

"Exactly right" is defined once, in benchmarks/reply_accuracy.py (`normalize`): the extracted
reply equals the expected one after line endings become "\\n", trailing whitespace is cut from
every line and blank space around the whole text is stripped. Nothing else is forgiven.
"""

# ruff: noqa: RUF001  (hand-written cases in other languages)

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.mail.quotes import Split, split_html, split_text

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from reply_accuracy import (
    Case,
    assertion_failures,
    load_cases,
    normalize,
)
from tests.mail.quotes.helpers import _letters

CASES = list(load_cases())
EXACT = [case for case in CASES if case.expected is not None]
PARTIAL = [case for case in CASES if case.checks]

# Cases whose expectation we believe is wrong or ambiguous: none today. Add one as
# "source/name": "reason"; it then runs as xfail and still counts as a failure in the accuracy.
DISPUTED: dict[str, str] = {}


def _params(cases: list[Case]) -> list[object]:
    return [
        pytest.param(
            case,
            id=case.id,
            marks=[pytest.mark.xfail(reason=DISPUTED[case.id], strict=True)]
            if case.id in DISPUTED
            else [],
        )
        for case in cases
    ]


def test_fixture_sets_are_all_there() -> None:
    sources = Counter(case.source for case in CASES)
    assert sources == {"trimmer": 32, "github": 22, "zapier": 20}
    assert len(EXACT) >= 45


@pytest.mark.parametrize("case", _params(EXACT))
def test_fixture_reply_is_exactly_right(case: Case) -> None:
    assert case.expected is not None
    assert normalize(split_text(case.body).reply) == normalize(case.expected)


@pytest.mark.parametrize("case", _params(PARTIAL))
def test_fixture_own_assertions_hold(case: Case) -> None:
    started = time.perf_counter()
    split = split_text(case.body)
    seconds = time.perf_counter() - started
    assert assertion_failures(case, split.reply, split.quoted, seconds) == []


@pytest.mark.parametrize("case", _params(CASES))
def test_fixture_split_loses_nothing(case: Case) -> None:
    split = split_text(case.body)
    assert _letters(split.reply) + _letters(split.quoted) == _letters(case.body)


def test_discourse_elided_part_matches() -> None:
    """Discourse's fixtures also say what is removed; ours must hold that text."""
    folder = Path(__file__).resolve().parents[2] / "fixtures" / "email-reply" / "trimmer"
    for case in (c for c in CASES if c.source == "trimmer"):
        elided = (folder / "elided" / case.name).read_text(encoding="utf-8")
        quoted = split_text(case.body).quoted
        # Discourse rewrites "|" quote marks as ">" in what it elides; we keep them as sent
        assert _letters(elided) - _MARKS <= _letters(quoted) - _MARKS, case.name


_MARKS = Counter({">": 10_000, "|": 10_000})


def test_overall_exact_accuracy_is_at_least_95_percent() -> None:
    right = sum(
        case.id not in DISPUTED
        and normalize(split_text(case.body).reply) == normalize(case.expected or "")
        for case in EXACT
    )
    assert right / len(EXACT) >= 0.95, f"{right} of {len(EXACT)} exactly right"


# --- hand-written: attribution lines per language ----------------------------------------------

QUOTE = "> Hello, can you help?\n>\n> Thanks\n"

ATTRIBUTIONS = {
    "en": "On Mon, Jan 6, 2025 at 10:00 AM Support <help@example.com> wrote:",
    "en-apple": "On 6 Jan 2025, at 10:00, Support <help@example.com> wrote:",
    "de": "Am 06.01.2025 um 10:00 schrieb Support <help@example.com>:",
    "de-gmail": "Support <help@example.com> schrieb am Mo., 6. Jan. 2025, 10:00:",
    "fr": "Le lun. 6 janv. 2025 à 10:00, Support <help@example.com> a écrit :",
    "fr-nbsp": "Le 06/01/2025 à 10:00, Support a écrit\u00a0:",
    "es": "El lun, 6 ene 2025 a las 10:00, Support (<help@example.com>) escribió:",
    "nl": "Op ma 6 jan. 2025 om 10:00 schreef Support <help@example.com>:",
    "nl-long": "Op 6 jan. 2025 om 10:00 heeft Support <help@example.com> het volgende geschreven:",
    "pt": "Em seg., 6 de jan. de 2025 às 10:00, Support <help@example.com> escreveu:",
    "id": "Pada tanggal Sen, 6 Jan 2025 pukul 10.00 Support <help@example.com> menulis:",
    "it": "Il giorno lun 6 gen 2025 alle ore 10:00 Support <help@example.com> ha scritto:",
    "sv": "Den mån 6 jan. 2025 kl 10:00 skrev Support <help@example.com>:",
    "pl": "pon., 6 sty 2025 o 10:00 Support <help@example.com> napisał(a):",
    "ru": "пн, 6 янв. 2025 г. в 10:00, Support <help@example.com>:",
    "ja": "2025年1月6日(月) 10:00 Support <help@example.com>:",
}


@pytest.mark.parametrize("language", ATTRIBUTIONS)
def test_attribution_and_quote_are_removed(language: str) -> None:
    header = ATTRIBUTIONS[language]
    split = split_text(f"Thank you, it works now.\n\nBest,\nAnna\n\n{header}\n{QUOTE}")
    assert split.reply == "Thank you, it works now.\n\nBest,\nAnna"
    assert split.quoted.startswith(header)
    assert split.quoted.endswith("> Thanks")


@pytest.mark.parametrize(
    ("language", "wrapped"),
    [
        ("en-2", "On Mon, Jan 6, 2025 at 10:00 AM Support Team <\nhelp@example.com> wrote:"),
        ("en-3", "On Mon, Jan 6, 2025 at 10:00 AM\nSupport Team\n<help@example.com> wrote:"),
        ("en-gmail", "On Mon, Jan 6, 2025 at 10:00 AM Support <help@example.com>\nwrote:"),
        ("de-2", "Am 06.01.2025 um 10:00 schrieb Support Team\n<help@example.com>:"),
        ("fr-2", "Le lun. 6 janv. 2025 à 10:00, Support Team <help@example.com> a\nécrit :"),
        ("es-2", "El lun, 6 ene 2025 a las 10:00, Support Team\n<help@example.com> escribió:"),
        (
            "nl-3",
            "Op 6 jan. 2025 om 10:00 heeft\nSupport Team <help@example.com> het\n"
            "volgende geschreven:",
        ),
        ("pt-2", "Em seg., 6 de jan. de 2025 às 10:00, Support Team\n<help@example.com> escreveu:"),
        (
            "id-2",
            "Pada tanggal Sen, 6 Jan 2025 pukul 10.00 Support Team\n<help@example.com> menulis:",
        ),
    ],
)
def test_attribution_wrapped_over_lines(language: str, wrapped: str) -> None:
    split = split_text(f"Works for me.\n\n{wrapped}\n\n{QUOTE}")
    assert split.reply == "Works for me.", language
    assert split.quoted.startswith(wrapped.split("\n")[0])


def test_attribution_followed_by_unquoted_history_is_cut() -> None:
    """Outlook mobile and some webmails quote without ">"."""
    body = (
        "Yes, please go ahead.\n\n"
        "On Mon, Jan 6, 2025 at 10:00 AM Support <help@example.com> wrote:\n\n"
        "Hello Anna,\n\nShall we replace the unit?\n\nSupport\n"
    )
    assert split_text(body).reply == "Yes, please go ahead."


# --- hand-written: Outlook header blocks, forwards -----------------------------------------------

OUTLOOK_HEADERS = {
    "en": "From: Support <help@example.com>\nSent: Monday, January 6, 2025 10:00 AM\n"
    "To: Anna <anna@example.org>\nSubject: RE: Broken unit",
    "de": "Von: Support <help@example.com>\nGesendet: Montag, 6. Januar 2025 10:00\n"
    "An: Anna <anna@example.org>\nBetreff: AW: Gerät defekt",
    "fr": "De : Support <help@example.com>\nEnvoyé : lundi 6 janvier 2025 10:00\n"
    "À : Anna <anna@example.org>\nObjet : RE: Appareil en panne",
    "es": "De: Support <help@example.com>\nEnviado: lunes, 6 de enero de 2025 10:00\n"
    "Para: Anna <anna@example.org>\nAsunto: RE: Equipo averiado",
    "nl": "Van: Support <help@example.com>\nVerzonden: maandag 6 januari 2025 10:00\n"
    "Aan: Anna <anna@example.org>\nOnderwerp: RE: Kapot apparaat",
    "en-bold": "*From:* Support <help@example.com>\n*Sent:* Monday, January 6, 2025 10:00 AM\n"
    "*To:* Anna\n*Subject:* RE: Broken unit",
}


@pytest.mark.parametrize("language", OUTLOOK_HEADERS)
@pytest.mark.parametrize(
    "rule", ["", "________________________________\n", "-----Original Message-----\n"]
)
def test_outlook_header_block_is_cut(language: str, rule: str) -> None:
    body = f"Thanks, received.\n\n{rule}{OUTLOOK_HEADERS[language]}\n\nHello Anna,\nold text\n"
    split = split_text(body)
    assert split.reply == "Thanks, received."
    assert "old text" in split.quoted


@pytest.mark.parametrize(
    "marker",
    [
        "---------- Forwarded message ---------",
        "Begin forwarded message:",
        "-------- Original Message --------",
        "-----Ursprüngliche Nachricht-----",
        "-------- Message transféré --------",
        "-----Mensaje original-----",
        "-------- Doorgestuurd bericht --------",
    ],
)
def test_forward_separator_is_cut(marker: str) -> None:
    body = (
        f"See the mail below.\n\n{marker}\nFrom: Bob <bob@example.com>\nDate: 6 Jan 2025\n\nOld.\n"
    )
    assert split_text(body).reply == "See the mail below."


def test_a_bare_forward_keeps_everything() -> None:
    """With no comment above it, the forwarded mail is what the person sent us."""
    body = (
        "---------- Forwarded message ---------\nFrom: Bob <bob@example.com>\n\n"
        "The printer is on fire.\n"
    )
    split = split_text(body)
    assert "The printer is on fire." in split.reply
    assert split.quoted == ""


# --- hand-written: signatures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        "-- \nAnna Smith\nACME Inc.",
        "--\nAnna",
        "Sent from my iPhone",
        "Sent from my Samsung Galaxy smartphone.",
        "Get Outlook for iOS",
        "Get Outlook for Android<https://aka.ms/ghei36>",
        "Envoyé de mon iPhone",
        "Von meinem iPhone gesendet",
        "Enviado desde mi iPhone",
        "Enviado do meu iPhone",
        "Verzonden vanaf mijn iPhone",
        "Inviato da iPhone",
        "Sendt fra min iPhone",
        "Dikirim dari iPhone saya",
        "Sent from Yahoo Mail on Android",
    ],
)
def test_signature_is_removed(signature: str) -> None:
    split = split_text(f"The invoice is attached.\n\n{signature}\n")
    assert split.reply == "The invoice is attached."
    assert split.quoted == signature


def test_mobile_signature_above_a_quote_goes_with_it() -> None:
    body = (
        "OK!\n\nSent from my iPhone\n\n"
        "On 6 Jan 2025, at 10:00, Support <h@example.com> wrote:\n\n> Hi\n"
    )
    split = split_text(body)
    assert split.reply == "OK!"
    assert split.quoted.startswith("Sent from my iPhone")


@pytest.mark.parametrize(
    "sentence",
    [
        "Sent from my desk, is much easier then my mobile phone.",
        "I sent from my old address last week, did it arrive?",
        "And here is a fix -- this is not a signature.",
        "On Monday I will call you about the order.",
    ],
)
def test_ordinary_sentences_stay(sentence: str) -> None:
    body = f"Hello,\n\n{sentence}\n"
    assert split_text(body) == Split(reply=f"Hello,\n\n{sentence}", quoted="")


@pytest.mark.parametrize(
    "body",
    [
        "Hi,\n\nOn 5 Jan I wrote to you about the order:\n\nit still has not arrived.\n\nAnna",
        "At 5pm the technician said:\n\nIt's the fan.\n\nBob",
        "Please write since 2024 to our office <office@example.com>\nand ask for Tom.",
        "Steps:\n-Restart\n-Login",
        "My order 2024-11-05 was not delivered\nplease check",
    ],
)
def test_text_that_only_looks_like_history_stays(body: str) -> None:
    assert split_text(body) == Split(reply=body, quoted="")


# --- hand-written: structure ---------------------------------------------------------------------


def test_inline_answers_keep_their_quotes() -> None:
    body = (
        "On Mon, Jan 6, 2025 at 10:00 AM Support <help@example.com> wrote:\n"
        "> Which model do you have?\n\nThe X200.\n\n> Since when?\n\nSince Friday.\n\n"
        "> Kind regards,\n> Support\n"
    )
    split = split_text(body)
    assert split.reply.startswith("On Mon, Jan 6")
    assert split.reply.endswith("Since Friday.")
    assert "> Since when?" in split.reply
    assert split.quoted == "> Kind regards,\n> Support"


def test_bottom_posting_keeps_only_the_answer() -> None:
    body = (
        "On Mon, Jan 6, 2025 at 10:00 AM Support <help@example.com> wrote:\n"
        "> Any news?\n\nYes, fixed.\n"
    )
    split = split_text(body)
    assert split.reply == "Yes, fixed."
    assert split.quoted.startswith("On Mon, Jan 6")


def test_text_without_history_is_unchanged_but_for_trailing_space() -> None:
    assert split_text("Hi,\r\n\r\nplease call me.\r\n\r\n") == Split("Hi,\n\nplease call me.", "")


def test_only_a_quote_is_kept_as_the_reply() -> None:
    assert split_text("> just a quote\n").reply == "> just a quote"


def test_empty_input() -> None:
    assert split_text("") == Split("", "")
    assert split_html("") == Split("", "")


def test_code_block_lines_are_not_delimiters() -> None:
    body = "Output:\n\n```\n-----\n> not a quote\n```\n\nThanks\n"
    assert split_text(body).reply == body.strip()


def test_long_quote_is_fast() -> None:
    body = "Short answer.\n\nOn Mon, Jan 6, 2025 at 10:00 AM Bob <b@example.com> wrote:\n"
    body += "> " + "x" * 70 + "\n"
    body = body + ("> " + "quoted line with words\n") * 50_000
    started = time.perf_counter()
    assert split_text(body).reply == "Short answer."
    assert time.perf_counter() - started < 2


# --- properties ----------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "",
        " ",
        "Hello there",
        "> quoted",
        ">",
        "-- ",
        "--",
        "________________",
        "-----Original Message-----",
        "From: Bob <b@example.com>",
        "Sent: Monday, 6 January 2025 10:00",
        "To: Anna",
        "Subject: Re: hi",
        "On Mon, Jan 6, 2025 at 10:00 AM Bob <b@example.com> wrote:",
        "On Mon, Jan 6, 2025 at 10:00 AM Bob",
        "<b@example.com> wrote:",
        "Am 06.01.2025 um 10:00 schrieb Bob:",
        "Sent from my iPhone",
        "-Anna",
        "```",
        "\r",
        "\t",
    ]
)
_LINES = st.lists(st.one_of(_PIECES, st.text(max_size=40)), max_size=30)


@settings(max_examples=300, deadline=None)
@given(_LINES, st.sampled_from(["\n", "\r\n", "\r"]))
def test_split_text_never_raises_and_loses_nothing(lines: list[str], newline: str) -> None:
    text = newline.join(lines)
    split = split_text(text)
    assert _letters(split.reply) + _letters(split.quoted) == _letters(text)
    assert split.reply == split.reply.rstrip()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_split_text_on_any_text(text: str) -> None:
    split = split_text(text)
    assert _letters(split.reply) + _letters(split.quoted) == _letters(text)
