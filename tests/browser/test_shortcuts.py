"""Keyboard shortcuts in Chromium (patron/shortcuts.js): moving through the inbox, writing a note,
assigning and solving a ticket, the help dialog, and the search box."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, User
from playwright.sync_api import Page, expect

from patron.tickets.models import Ticket
from tests import factories

LogIn = Callable[[AbstractBaseUser], None]


def wait_for_ticket(pk: int, page: Page, **expected: object) -> Ticket:
    """The server commits a change just after the page shows it; poll the database briefly."""
    for _ in range(50):
        ticket = Ticket.objects.get(pk=pk)
        if all(getattr(ticket, field) == value for field, value in expected.items()):
            break
        page.wait_for_timeout(100)
    return ticket


def test_j_twice_then_o_opens_the_second_ticket_in_the_inbox(
    page: Page, log_in: LogIn, now: datetime
) -> None:
    for subject in ("Parcel lost", "Wrong size", "Refund please"):
        factories.ticket(now=now, subject=subject)
    log_in(factories.agent(password=None))
    page.goto("/tickets/")

    rows = page.locator(".inbox-list tbody tr[data-ticket]")
    expect(rows).to_have_count(3)
    second = rows.nth(1)
    number = second.get_attribute("data-ticket")
    subject = second.get_by_role("link").inner_text()

    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("j")
    expect(second).to_have_attribute("aria-selected", "true")
    expect(rows.nth(0)).not_to_have_attribute("aria-selected", "true")
    expect(second.get_by_role("link")).to_be_focused()
    page.keyboard.press("k")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.get_by_label(f"Select ticket #{number}")).to_be_checked()

    page.keyboard.press("o")
    expect(page).to_have_url(f"{page.url.split('/tickets/')[0]}/tickets/{number}/")
    expect(page.get_by_role("heading", name=subject)).to_be_visible()


def test_n_writes_an_internal_note_and_a_assigns_and_e_solves(
    page: Page, log_in: LogIn, now: datetime
) -> None:
    ticket = factories.ticket(now=now, subject="Printer on fire")
    agent = factories.agent(password=None)
    assert isinstance(agent, User)
    log_in(agent)
    page.goto(f"/tickets/{ticket.number}/")

    page.keyboard.press("n")
    expect(page.get_by_label("Internal note")).to_be_checked()
    expect(page.get_by_label("Message")).to_be_focused()
    page.keyboard.type("Checked with the vendor: known firmware bug.")
    expect(page.get_by_label("Message")).to_have_value(
        "Checked with the vendor: known firmware bug."
    )
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".tag-note")).to_have_text("Internal note")
    expect(page.get_by_text("Checked with the vendor: known firmware bug.")).to_be_visible()

    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("r")
    expect(page.get_by_label("Public reply")).to_be_checked()
    expect(page.get_by_label("Message")).to_be_focused()
    page.get_by_label("Message").blur()

    page.keyboard.press("a")
    expect(page.locator("#field-assignee")).to_have_value(str(agent.pk))
    assert wait_for_ticket(ticket.pk, page, assignee_id=agent.pk).assignee_id == agent.pk

    page.keyboard.press("e")
    expect(page.locator("#field-status")).to_have_value("solved")
    expect(page.locator("#field-status option:checked")).to_have_text("Solved")
    assert wait_for_ticket(ticket.pk, page, status="solved").status == "solved"


def test_question_mark_opens_the_help_and_escape_closes_it_returning_focus(
    page: Page, log_in: LogIn, now: datetime
) -> None:
    factories.ticket(now=now, subject="Where is my parcel")
    log_in(factories.agent(password=None))
    page.goto("/tickets/")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_hidden()
    link = page.get_by_role("link", name="Where is my parcel")

    page.keyboard.press("j")
    expect(link).to_be_focused()
    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("Set status Solved")).to_be_visible()
    page.keyboard.press("o")  # ignored while the dialog is open
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(link).to_be_focused()
    assert page.url.endswith("/tickets/")


def test_slash_focuses_the_search_box_but_not_while_typing(
    page: Page, log_in: LogIn, now: datetime
) -> None:
    ticket = factories.ticket(now=now, subject="Slash test")
    log_in(factories.agent(password=None))
    page.goto(f"/tickets/{ticket.number}/")

    page.get_by_label("Message").fill("and/or")
    page.get_by_label("Message").press("/")
    expect(page.get_by_label("Message")).to_have_value("and/or/")
    page.get_by_label("Message").press("n")
    expect(page.get_by_label("Message")).to_have_value("and/or/n")
    page.get_by_label("Message").blur()

    page.keyboard.press("/")
    search = page.get_by_role("searchbox", name="Search")
    expect(search).to_be_focused()
    page.keyboard.type("refund")
    expect(search).to_have_value("refund")
