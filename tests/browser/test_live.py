"""Live updates in Chromium against real uvicorn processes: agent B sees agent A's new ticket and
reply without reloading, within two seconds; a stream cut by a killed server resumes from the
last event id and loses nothing; two agents on one ticket see the collision warning."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, Page, expect

from patron.tickets import services
from patron.tickets.models import Ticket, TicketEvent
from tests import factories
from tests.browser.conftest import database_url, start_server, stop_server

LIVE_WITHIN_MS = 2000  # the promise: a colleague's change shows within two seconds


def named_agent(first: str, last: str) -> User:
    user = factories.agent(password=None)
    assert isinstance(user, User)
    user.first_name, user.last_name = first, last
    user.save()
    return user


def context_for(browser: Browser, base_url: str, user: User) -> BrowserContext:
    client = Client()
    client.force_login(user)
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 800})
    cookie = client.cookies["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": base_url}])
    return context


def wait_until_live(page: Page) -> None:
    page.wait_for_function("() => document.body.dataset.live === 'open'")


def record_events(page: Page) -> None:
    """Collect every ticket event id the page's stream hands over, and mark the page so a reload
    would show."""
    page.evaluate(
        """() => {
            window.__received = [];
            window.__notReloaded = true;
            document.body.addEventListener(
                "patron:ticket", (e) => window.__received.push(e.detail.id)
            );
        }"""
    )


def test_b_sees_a_new_ticket_and_a_reply_from_a_within_two_seconds(
    browser: Browser, live_url: str
) -> None:
    alex = named_agent("Alex", "Moreau")
    bea = named_agent("Bea", "Lindqvist")
    a_context, b_context = context_for(browser, live_url, alex), context_for(browser, live_url, bea)
    a_page, b_page = a_context.new_page(), b_context.new_page()

    b_page.goto("/tickets/?view=all_open")
    wait_until_live(b_page)
    record_events(b_page)
    all_open = b_page.locator('.count[data-view="all_open"]')
    before = int(all_open.inner_text())

    a_page.goto("/tickets/new")
    a_page.get_by_label("Requester's email address").fill("noor@customer.example")
    a_page.get_by_label("Subject").fill("Parcel stuck in customs")
    a_page.get_by_label("Message").fill("Noor called: the parcel has been in customs for a week.")
    with a_page.expect_navigation():
        a_page.get_by_role("button", name="Create ticket").click()
    ticket = Ticket.objects.get(subject="Parcel stuck in customs")

    row = b_page.locator(f'tr[data-ticket="{ticket.number}"]')
    expect(row).to_contain_text("Parcel stuck in customs", timeout=LIVE_WITHIN_MS)
    expect(all_open).to_have_text(str(before + 1), timeout=LIVE_WITHIN_MS)

    b_page.goto(f"/tickets/{ticket.number}/")
    wait_until_live(b_page)
    record_events(b_page)
    a_page.get_by_label("Message").fill("We have asked the courier to release it today.")
    with a_page.expect_navigation():
        a_page.get_by_role("button", name="Send").click()
    conversation = b_page.locator("#conversation")
    expect(conversation).to_contain_text(
        "We have asked the courier to release it today.", timeout=LIVE_WITHIN_MS
    )
    assert b_page.evaluate("window.__notReloaded") is True
    a_context.close()
    b_context.close()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[dict[str, object]]:
    """A server of the test's own, which the test may kill and start again on the same port."""
    from patron.settings import CONFIG

    options: dict[str, object] = {
        "database": database_url(connection.settings_dict),
        "data_dir": CONFIG.data_dir,
        "secret_key": CONFIG.secret_key,
        "log_path": tmp_path / "server.log",
    }
    server, url = start_server(**options)  # type: ignore[arg-type]
    state: dict[str, object] = {"server": server, "url": url, "options": options}
    yield state
    stop_server(state["server"])  # type: ignore[arg-type]


def test_a_cut_stream_resumes_and_loses_no_event(
    browser: Browser, own_server: dict[str, object], now: datetime
) -> None:
    url = str(own_server["url"])
    watcher = named_agent("Bea", "Lindqvist")
    author = named_agent("Alex", "Moreau")
    context = context_for(browser, url, watcher)
    page = context.new_page()
    page.goto("/tickets/?view=all_open")
    wait_until_live(page)
    record_events(page)

    first = factories.ticket(now=timezone.now(), subject="Before the cut")
    expect(page.locator(f'tr[data-ticket="{first.number}"]')).to_be_visible(timeout=LIVE_WITHIN_MS)

    # Kill the server: the stream drops with no goodbye.
    server = own_server["server"]
    server.send_signal(signal.SIGKILL)  # type: ignore[attr-defined]
    server.wait()  # type: ignore[attr-defined]
    page.wait_for_function("() => document.body.dataset.live !== 'open'")

    # Changes made while no stream is connected (another process, say the worker, makes them).
    newest_before = TicketEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
    during = [factories.ticket(now=timezone.now(), subject=f"During the cut {n}") for n in range(3)]
    services.reply(during[0], author=author, body="A reply while cut off", now=timezone.now())
    services.change_priority(during[1], "urgent", actor=author, now=timezone.now())
    missed = list(
        TicketEvent.objects.filter(pk__gt=newest_before or 0).values_list("pk", flat=True)
    )
    assert len(missed) >= 6

    # Restore it on the same port: the browser reconnects and is sent what it missed.
    options = dict(own_server["options"])  # type: ignore[call-overload]
    port = int(url.rsplit(":", 1)[1])
    own_server["server"], _ = start_server(**options, port=port)
    wait_until_live(page)
    for ticket in during:
        expect(page.locator(f'tr[data-ticket="{ticket.number}"]')).to_be_visible()
    page.wait_for_function("(ids) => ids.every((id) => window.__received.includes(id))", arg=missed)
    received = page.evaluate("window.__received")
    assert len(received) == len(set(received))  # each event handed over once
    assert page.evaluate("window.__notReloaded") is True
    context.close()


def test_a_reply_arriving_while_typing_warns_before_sending(
    browser: Browser, live_url: str, now: datetime
) -> None:
    ticket = factories.ticket(now=now, subject="Two agents, one ticket")
    alex = named_agent("Alex", "Moreau")
    bea = named_agent("Bea", "Lindqvist")
    a_context, b_context = context_for(browser, live_url, alex), context_for(browser, live_url, bea)
    a_page, b_page = a_context.new_page(), b_context.new_page()
    for page in (a_page, b_page):
        page.goto(f"/tickets/{ticket.number}/?poll=1")
        wait_until_live(page)

    expect(b_page.locator("#presence")).to_contain_text("Alex Moreau is viewing")
    b_page.get_by_label("Message").fill("Draft answer from Bea")
    a_page.get_by_label("Message").fill("Alex already answered this.")
    with a_page.expect_navigation():
        a_page.get_by_role("button", name="Send").click()

    warning = b_page.locator("#new-message-warning")
    expect(warning).to_contain_text("A new message from Alex Moreau arrived while you were typing")
    expect(b_page.get_by_label("Message")).to_have_value("Draft answer from Bea")
    # Sending anyway is refused once, with the new message shown, until Bea confirms.
    b_page.get_by_role("button", name="Send").click()
    expect(b_page.get_by_label("I have read the new message; send anyway")).to_be_visible()
    a_context.close()
    b_context.close()
