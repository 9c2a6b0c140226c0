"""The ticket workspace in Chromium: a sidebar edit swapped in by htmx without a reload, and two
agents on one ticket seeing each other."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, User
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from patron.tickets.models import Ticket
from tests import factories

LogIn = Callable[[AbstractBaseUser], None]
FAST_POLL = "?poll=1"  # the page polls presence every second instead of every ten


def test_an_agent_changes_the_priority_in_the_sidebar_without_a_reload(
    page: Page, log_in: LogIn, now: datetime
) -> None:
    ticket = factories.ticket(now=now, subject="Refund not received")
    agent = factories.agent(password=None)

    log_in(agent)
    page.goto(f"/tickets/{ticket.number}/")
    page.evaluate("window.__notReloaded = true")
    page.get_by_label("Priority").select_option("urgent")

    sidebar = page.get_by_role("region", name="Fields")
    expect(sidebar.get_by_label("Priority")).to_have_value("urgent")
    page.get_by_text("Timeline").wait_for()
    expect(page.locator("#ticket-sidebar")).to_be_visible()
    page.wait_for_function("() => document.readyState === 'complete'")
    assert page.evaluate("window.__notReloaded") is True
    for _ in range(50):
        if Ticket.objects.get(pk=ticket.pk).priority == "urgent":
            break
        page.wait_for_timeout(100)
    assert Ticket.objects.get(pk=ticket.pk).priority == "urgent"


def test_two_agents_on_one_ticket_see_each_other(
    browser: Browser, live_url: str, now: datetime
) -> None:
    ticket = factories.ticket(now=now, subject="Invoice shows the wrong VAT")
    priya = factories.agent(password=None)
    assert isinstance(priya, User)
    priya.first_name, priya.last_name = "Priya", "Raman"
    priya.save()
    sam = factories.agent(password=None)
    assert isinstance(sam, User)

    pages = []
    for user in (priya, sam):
        client = Client()
        client.force_login(user)
        context = browser.new_context(base_url=live_url)
        cookie = client.cookies["sessionid"]
        context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_url}])
        pages.append(context.new_page())
    priya_page, sam_page = pages

    priya_page.goto(f"/tickets/{ticket.number}/{FAST_POLL}")
    sam_page.goto(f"/tickets/{ticket.number}/{FAST_POLL}")

    expect(sam_page.locator("#presence")).to_contain_text("Priya Raman is viewing")
    priya_page.get_by_label("Message").press_sequentially("Checking the VAT rate")
    expect(sam_page.locator("#presence")).to_contain_text("Priya Raman is typing a reply")
    for page in pages:
        page.context.close()


def test_the_draft_survives_leaving_the_page_and_is_cleared_once_sent(
    page: Page, log_in: LogIn, now: datetime
) -> None:
    ticket = factories.ticket(now=now, subject="Password reset mail never came")
    log_in(factories.agent(password=None))
    draft = "I have re-sent the reset link; it expires in an hour."

    page.goto(f"/tickets/{ticket.number}/")
    page.get_by_label("Message").fill(draft)
    page.goto("/tickets/")
    page.goto(f"/tickets/{ticket.number}/")
    expect(page.get_by_label("Message")).to_have_value(draft)

    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("region", name="Conversation")).to_contain_text(draft)
    expect(page.get_by_label("Message")).to_have_value("")
    page.reload()
    expect(page.get_by_label("Message")).to_have_value("")
