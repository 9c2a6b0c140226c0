"""Automatic messages: bounces (RFC 3464), auto-reply headers, out-of-office subjects."""

from __future__ import annotations

import pytest

from patron.mail.parsing import Bounce, is_out_of_office_subject, parse
from tests.mail.parsing.helpers import raw_mail

# --------------------------------------------------------------------------------------------
# Bounces


def dsn(report_headers: str, status: str, returned: bytes) -> bytes:
    return (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example>\r\n"
        b"To: support@desk.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
        b"--R\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
        b"--R\r\nContent-Type: message/delivery-status\r\n\r\n"
        + report_headers.encode()
        + b"\r\n"
        + status.encode()
        + b"\r\n--R\r\n"
        + returned
        + b"\r\n--R--\r\n"
    )


def test_dsn_bounce_with_returned_headers() -> None:
    raw = dsn(
        "Reporting-MTA: dns; mx.example\r\n",
        "Final-Recipient: rfc822; gone@customer.example\r\nAction: failed\r\n"
        "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <gone@customer.example>:\r\n"
        "    Recipient address rejected: User unknown\r\n",
        b"Content-Type: text/rfc822-headers\r\n\r\nFrom: support@desk.example\r\n"
        b"Message-ID: <reply-42@desk.example>\r\nSubject: Re: [#1042] Printer\r\n",
    )
    mail = parse(raw)
    assert mail.bounce == Bounce(
        original_message_id="reply-42@desk.example",
        recipient="gone@customer.example",
        status="5.1.1",
        action="failed",
        diagnostic=("550 5.1.1 <gone@customer.example>: Recipient address rejected: User unknown"),
        recipients=("gone@customer.example",),
    )
    assert mail.auto_submitted == "delivery status notification"
    assert mail.text.startswith("I'm sorry")


def test_dsn_bounce_with_returned_message_and_no_diagnostic_code() -> None:
    raw = dsn(
        "Reporting-MTA: dns; mx.example\r\n",
        "Final-Recipient: rfc822;<full@customer.example>\r\nAction: delayed\r\nStatus: 4.2.2\r\n",
        b"Content-Type: message/rfc822\r\n\r\nFrom: support@desk.example\r\n"
        b"Message-ID: <reply-43@desk.example>\r\n\r\nbody\r\n",
    )
    bounce = parse(raw).bounce
    assert bounce is not None
    assert bounce.original_message_id == "reply-43@desk.example"
    assert (bounce.recipient, bounce.action, bounce.status) == (
        "full@customer.example",
        "delayed",
        "4.2.2",
    )
    assert bounce.diagnostic == "I'm sorry to have to inform you..."


def test_other_reports_are_not_bounces() -> None:
    raw = dsn("", "", b"Content-Type: text/plain\r\n\r\nx").replace(
        b"report-type=delivery-status", b"report-type=disposition-notification"
    )
    mail = parse(raw)
    assert mail.bounce is None
    assert mail.auto_submitted == "read receipt (disposition notification)"


# --------------------------------------------------------------------------------------------
# Auto-replies


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: auto-generated", "Auto-Submitted: auto-generated"),
        ("Auto-Submitted: no", None),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Precedence: Junk", "Precedence: junk"),
        ("Precedence: list", "Precedence: list"),
        ("Precedence: first-class", None),
        ("X-Autoreply: yes", "X-Autoreply: yes"),
        ("X-Autorespond: Out of office", "X-Autorespond: Out of office"),
        ("X-Auto-Response-Suppress: All", "X-Auto-Response-Suppress: All"),
        ("X-Auto-Response-Suppress: OOF, AutoReply", "X-Auto-Response-Suppress: OOF, AutoReply"),
        ("X-Mailer: Outlook", None),
    ],
)
def test_auto_reply_headers(header: str, expected: str | None) -> None:
    mail = parse(raw_mail(header + "\r\n", b"body"))
    assert mail.auto_submitted == expected


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: Printer jam",
        "Automatic reply: Re: [#1042] Printer jam",
        "AutoReply: Printer",
        "Out of office AutoReply: Printer",
        "Abwesenheitsnotiz: Drucker",
        "Automatische Antwort: Drucker",
        "Réponse automatique : Imprimante",
        "Reponse automatique: Imprimante",
        "Absent du bureau",
        "Respuesta automática: Impresora",
        "Fuera de la oficina: Impresora",
        "Automatisch antwoord: Printer",
        "Afwezig: Printer",
        "Resposta automática: Impressora",
        "Fora do escritório",
        "Balasan Otomatis: Printer",
        "Di luar kantor",
        "[EXTERNAL] Automatic reply: Printer",
        "=?utf-8?q?R=C3=A9ponse_automatique=C2=A0:?= Imprimante",
    ],
)
def test_out_of_office_subjects(subject: str) -> None:
    mail = parse(raw_mail("", b"body").replace(b"Subject: Hello", f"Subject: {subject}".encode()))
    assert mail.auto_submitted is not None
    assert mail.auto_submitted.startswith("out-of-office subject")


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Question about your office hours",
        "Automatically renew my plan?",
        "My reply was automatic",
        "Afwezigheid van de monteur",  # "absence of the engineer": a real request
        "Printer jam",
    ],
)
def test_ordinary_subjects_are_not_out_of_office(subject: str) -> None:
    assert not is_out_of_office_subject(subject)
