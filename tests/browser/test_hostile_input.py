"""Script and HTML in what customers and agents write renders as text in a real browser."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import pytest
from django.contrib.auth.models import AbstractBaseUser
from playwright.sync_api import Dialog, Page, expect

from patron.tickets.models import Message, Ticket
from tests import factories

LogIn = Callable[[AbstractBaseUser], None]

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(document.domain)>"
SVG = '"><svg onload=alert(1)>'
LINK = '<a href="javascript:alert(1)">click me</a>'
PAYLOADS = (SCRIPT, IMG, SVG, LINK)
SUBJECT = f"Refund {SCRIPT} {IMG} {SVG}"
BODY = f"Hello,\n{SCRIPT}\n{IMG}\n{SVG}\n{LINK}\nor paste javascript:alert(1) in the address bar."
REQUESTER = "Mallory <img src=y onerror=alert(2)>"

# Elements a payload would create if it were parsed as HTML.
INJECTABLE = "script, img, svg, iframe, object, embed, a[href^='javascript:' i]"
COUNT_INJECTED = (
    "(els, selector) => els.reduce((n, el) => n + el.querySelectorAll(selector).length, 0)"
)
# Handlers and javascript: links have no legitimate place anywhere in Patron's pages.
COUNT_HANDLERS = (
    "() => document.querySelectorAll("
    "\"[onerror], [onload], [onclick], [onmouseover], [onfocus], a[href^='javascript:' i]\").length"
)


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Every alert/confirm/prompt the page opens, dismissed and recorded."""
    seen: list[str] = []

    def _record(dialog: Dialog) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", _record)
    return seen


@pytest.fixture
def hostile_ticket(now: datetime) -> Ticket:
    requester = factories.contact(now=now, name=REQUESTER)
    return factories.ticket(now=now, requester=requester, subject=SUBJECT, body=BODY)


def injected(page: Page, where: str) -> int:
    return int(page.locator(where).evaluate_all(COUNT_INJECTED, INJECTABLE))


def test_the_dialog_watch_catches_an_alert(page: Page, dialogs: list[str]) -> None:
    """The control for the tests below: an alert that does run is seen."""
    page.set_content("<p>probe</p>")
    page.evaluate("() => alert('probe')")
    assert dialogs == ["probe"]


def test_a_hostile_subject_and_body_render_as_text_on_the_ticket_page(
    page: Page, log_in: LogIn, dialogs: list[str], hostile_ticket: Ticket
) -> None:
    log_in(factories.agent(password=None))
    page.goto(f"/tickets/{hostile_ticket.number}/")

    heading = page.get_by_role("heading", level=1)
    first_message = page.get_by_role("region", name="Conversation").locator(".message .body").first
    for payload in (SCRIPT, IMG, SVG):
        expect(heading).to_contain_text(payload)
    for payload in (*PAYLOADS, "javascript:alert(1)"):
        expect(first_message).to_contain_text(payload)
    expect(page.locator(".meta")).to_contain_text(REQUESTER)
    expect(page).to_have_title(re.compile(re.escape(SCRIPT)))
    assert injected(page, "h1") == 0
    assert injected(page, "section.conversation") == 0
    assert injected(page, ".meta") == 0
    assert page.evaluate(COUNT_HANDLERS) == 0
    assert dialogs == []


def test_a_hostile_subject_and_requester_render_as_text_in_the_ticket_list(
    page: Page, log_in: LogIn, dialogs: list[str], hostile_ticket: Ticket
) -> None:
    log_in(factories.agent(password=None))
    page.goto("/tickets/")

    link = page.get_by_role("link", name=SUBJECT, exact=True)
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", f"/tickets/{hostile_ticket.number}/")
    expect(page.get_by_role("row").filter(has_text=SUBJECT)).to_contain_text(REQUESTER)
    assert injected(page, "table.tickets") == 0
    assert page.evaluate(COUNT_HANDLERS) == 0
    assert dialogs == []


def test_a_hostile_reply_typed_in_the_browser_renders_as_text(
    page: Page, log_in: LogIn, dialogs: list[str], now: datetime
) -> None:
    ticket = factories.ticket(now=now)
    agent = factories.agent(password=None)
    reply = "\n".join(PAYLOADS)

    log_in(agent)
    page.goto(f"/tickets/{ticket.number}/")
    page.get_by_label("Message").fill(reply)
    page.get_by_role("button", name="Send").click()

    last = page.get_by_role("region", name="Conversation").locator(".message .body").last
    for payload in PAYLOADS:
        expect(last).to_contain_text(payload)
    page.wait_for_load_state("load")
    assert injected(page, "section.conversation") == 0
    assert page.evaluate(COUNT_HANDLERS) == 0
    assert dialogs == []
    stored = Message.objects.get(ticket=ticket, author_agent=agent).body_text
    assert stored.splitlines() == reply.splitlines()  # browsers submit textarea lines as CRLF
