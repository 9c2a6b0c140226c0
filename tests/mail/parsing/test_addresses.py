"""Addresses from real-world mail: the address in angle brackets is the address, whatever the
display name looks like; internationalized addresses (RFC 6532) are addresses.

The messages are made for these tests (tests/fixtures/mail-made/, and the bytes below).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from patron.core.errors import InvalidInput
from patron.mail.models import InboundMail, Mailbox
from patron.mail.parsing import Address, parse
from patron.people import services as people
from patron.people.models import ContactEmail
from patron.tickets.models import Ticket
from tests.mail.parsing.helpers import assert_contract
from tests.mail.test_ingest import Capture, mailbox, receive

__all__ = ["mailbox"]  # the fixture, shared with the ingest tests

MADE = Path(__file__).resolve().parents[2] / "fixtures" / "mail-made"


def headers(lines: str) -> bytes:
    tail = "Subject: Hello\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHi\r\n"
    return (lines + tail).encode()


def ticket_of(capture: Capture, raw: bytes, mailbox: Mailbox, now: datetime) -> Ticket:
    """Take a made mail in through the whole ingest; the ticket it became."""
    stored = receive(capture, raw, mailbox, now)
    assert stored.state == InboundMail.State.PROCESSED, stored.reason
    assert stored.ticket is not None
    return stored.ticket


# ---------------------------------------------------------------------------------------------
# A display name that looks like an address


def test_the_angle_address_is_the_address_in_from_cc_and_reply_to() -> None:
    mail = parse((MADE / "name-is-another-address.eml").read_bytes())
    assert_contract(mail)
    assert mail.sender == Address(name="", address="bob@example.com")
    assert mail.cc == (
        Address(name="", address="dave@example.org"),
        Address(name="Doe, Jane", address="jane@example.net"),
    )
    assert mail.reply_to == (Address(name="", address="frank@example.com"),)
    assert (
        "The sender's name looks like another address (alice@example.com);"
        " the address is bob@example.com."
    ) in mail.defects
    assert any("(carol@example.org); the address is dave@example.org." in d for d in mail.defects)
    assert any("(erin@example.com); the address is frank@example.com." in d for d in mail.defects)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"alice@example.com" <bob@example.com>', Address("", "bob@example.com")),
        ("alice@example.com<bob@example.com>", Address("", "bob@example.com")),
        (
            "Mr alice@example.com <bob@example.com>",
            Address("Mr alice@example.com", "bob@example.com"),
        ),
        ("=?utf-8?b?YWxpY2VAZXhhbXBsZS5jb20=?= <bob@example.com>", Address("", "bob@example.com")),
        ("Team: alice@example.com <bob@example.com>;", Address("", "bob@example.com")),
    ],
)
def test_every_form_of_an_address_like_name_gives_the_angle_address(
    value: str, expected: Address
) -> None:
    mail = parse(headers(f"From: {value}\r\n"))
    assert mail.sender == expected
    assert any("looks like another address (alice@example.com)" in d for d in mail.defects)


def test_a_name_that_is_the_same_address_is_no_name_and_no_defect() -> None:
    mail = parse(headers("From: bob@example.com <bob@example.com>\r\n"))
    assert mail.sender == Address(name="", address="bob@example.com")
    assert not any("looks like another address" in d for d in mail.defects)


def test_quoted_names_with_commas_encoded_words_and_groups_are_unchanged() -> None:
    mail = parse(
        headers(
            'From: "Haddad, Noor" <noor@example.com>\r\n'
            "To: Undisclosed recipients:;\r\n"
            'Cc: Sales: "Lee, Kim" <kim@example.com>, =?utf-8?q?Andr=C3=A9?= <andre@example.com>;,'
            " x@example.org\r\n"
        )
    )
    assert mail.sender == Address(name="Haddad, Noor", address="noor@example.com")
    assert mail.cc == (
        Address(name="Lee, Kim", address="kim@example.com"),
        Address(name="André", address="andre@example.com"),
        Address(name="", address="x@example.org"),
    )
    assert not any("looks like" in d for d in mail.defects)


def test_the_requester_is_the_angle_address_and_gets_no_address_as_name(
    mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    raw = (MADE / "name-is-another-address.eml").read_bytes()
    requester = ticket_of(django_capture_on_commit_callbacks, raw, mailbox, now).requester
    assert [e.address for e in requester.emails.all()] == ["bob@example.com"]
    assert requester.name == ""
    assert people.find_contact("alice@example.com") is None
    copied = people.find_contact("dave@example.org")
    assert copied is not None and copied.name == ""


# ---------------------------------------------------------------------------------------------
# Internationalized addresses (RFC 6532)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("用户@例子.广告", "用户@例子.广告"),
        ("josé@EXÄMPLE.com", "josé@exämple.com"),
        ("Ünïcode.Ñame@xn--exmple-cua.com", "Ünïcode.Ñame@xn--exmple-cua.com"),
        ("plain@Example.COM", "plain@example.com"),
    ],
)
def test_normalize_email_accepts_utf8_local_parts_and_idna_domains(given: str, stored: str) -> None:
    assert people.normalize_email(given) == stored


@pytest.mark.parametrize(
    "bad",
    ["用户@", "@例子.广告", "a b@例子.广告", "用\u200b户@例子.广告", "josé@-exämple.com", "josé"],
)
def test_normalize_email_still_refuses_what_is_no_address(bad: str) -> None:
    with pytest.raises(InvalidInput):
        people.normalize_email(bad)


def test_internationalized_addresses_are_parsed() -> None:
    mail = parse((MADE / "internationalized-addresses.eml").read_bytes())
    assert_contract(mail)
    assert mail.sender == Address(name="用户", address="用户@例子.广告")
    assert mail.cc == (Address(name="José", address="josé@exämple.com"),)
    loose = parse(headers("From: Big Bug josé@exämple.com\r\n"))
    assert loose.sender is not None and loose.sender.address == "josé@exämple.com"


def test_internationalized_addresses_become_contacts_through_the_ingest(
    mailbox: Mailbox, now: datetime, django_capture_on_commit_callbacks: Capture
) -> None:
    raw = (MADE / "internationalized-addresses.eml").read_bytes()
    assert ticket_of(django_capture_on_commit_callbacks, raw, mailbox, now).requester.name == "用户"
    assert ContactEmail.objects.filter(address="用户@例子.广告").exists()
    copied = people.find_contact("josé@exämple.com")
    assert copied is not None and copied.name == "José"
    # A mail from the copied contact, its domain written in capitals, finds that contact.
    again = raw.replace("From: 用户 <用户@例子.广告>".encode(), "From: <josé@EXÄMPLE.COM>".encode())
    again = again.replace(b"made-4@", b"made-5@").replace("Ünïcode".encode(), b"Other")
    second = ticket_of(django_capture_on_commit_callbacks, again, mailbox, now)
    assert second.requester_id == copied.pk
