"""Take docs/screenshot.png, the README's picture of a ticket page. Run once, by hand:

    .venv/bin/python -m tests.browser.screenshot

It builds a throw-away SQLite database with a handful of realistic tickets, serves it with the
same uvicorn fixture code as the browser tests, logs in through the form in Debian's Chromium and
photographs a client's ticket at 1280x800. Not a test (pytest collects only test_*.py).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "screenshot.png"
PASSWORD = "correct horse battery"

WORK_DIR = Path(tempfile.mkdtemp(prefix="patron-screenshot-"))
DATABASE = f"sqlite:///{WORK_DIR / 'screenshot.sqlite3'}"
os.environ.update(
    PATRON_DATA_DIR=str(WORK_DIR),
    DATABASE_URL=DATABASE,
    PATRON_SECRET_KEY=secrets.token_urlsafe(50),
    PATRON_TASK_BACKEND="immediate",
    DJANGO_SETTINGS_MODULE="patron.settings",
)

import django  # noqa: E402  (the environment above must be set before Django reads settings)

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402
from playwright.sync_api import ViewportSize, sync_playwright  # noqa: E402

from patron.people import agents  # noqa: E402
from patron.people import services as people  # noqa: E402
from patron.people.models import Role, Team  # noqa: E402
from patron.settings import CONFIG  # noqa: E402
from patron.tickets import services as tickets  # noqa: E402
from patron.tickets.models import Status  # noqa: E402
from tests.browser.conftest import CHROMIUM_ARGS, run_server  # noqa: E402

VIEWPORT = ViewportSize(width=1280, height=800)


def build_desk(now: datetime) -> int:
    """A small desk: two agents, a client and a customer, a few tickets. Returns the ticket
    number to photograph."""
    logistics = Team.objects.create(name="Logistics")
    priya = agents.create_agent(
        username="priya", email="priya@desk.example", password=PASSWORD,
        first_name="Priya", last_name="Natarajan", teams=[logistics],
    ).user  # fmt: skip
    tom = agents.create_agent(
        username="tom", email="tom@desk.example", password=PASSWORD, role=Role.SUPERVISOR,
        first_name="Tom", last_name="Becker", teams=[logistics],
    ).user  # fmt: skip
    people.create_organization(
        name="Northwind Logistics", relationship="client", tier="gold",
        domains=["northwind.example"], account_manager=tom, now=now - timedelta(days=400),
    )  # fmt: skip
    people.create_organization(
        name="Brightside Café", domains=["brightside.example"], now=now - timedelta(days=90)
    )
    helen = people.create_contact(
        email="helen.park@northwind.example", name="Helen Park", now=now - timedelta(days=380)
    )
    marco = people.create_contact(
        email="marco@brightside.example", name="Marco Silva", now=now - timedelta(days=60)
    )
    jamie = people.create_contact(
        email="jamie.chen@mail.example", name="Jamie Chen", now=now - timedelta(days=3)
    )

    tickets.create_ticket(
        requester=jamie, subject="Can I change the delivery address on order 48213?",
        body="I moved last week. Is it too late to change where the parcel goes?",
        now=now - timedelta(hours=5), channel="web",
    )  # fmt: skip
    coffee = tickets.create_ticket(
        requester=marco, subject="Invoice 2026-1187 charged twice",
        body="Our card was charged twice for the November invoice. Could you refund one?",
        now=now - timedelta(hours=30), channel="email", assignee=priya,
    )  # fmt: skip
    tickets.reply(
        coffee, author=priya, now=now - timedelta(hours=29), status=Status.SOLVED,
        body="Refunded the duplicate charge; it shows on your statement in 3 to 5 days.",
    )  # fmt: skip

    ticket = tickets.create_ticket(
        requester=helen,
        subject="Shipping labels print the old warehouse address",
        body=(
            "Hello,\n\nsince this morning every label we print from the dashboard shows our old "
            "Rotterdam warehouse instead of the new one in Antwerp. Forty parcels are waiting.\n\n"
            "Can you fix this today?\n\nHelen Park\nOperations, Northwind Logistics"
        ),
        now=now - timedelta(hours=3, minutes=20),
        channel="email",
        priority="high",
        type="incident",
        team=logistics,
        assignee=priya,
    )
    tickets.reply(
        ticket, author=tom, public=False, now=now - timedelta(hours=3, minutes=5),
        body="Gold client, renewal in January. Their address change went in on Friday; "
             "the label service may still cache the old one.",
    )  # fmt: skip
    tickets.reply(
        ticket, author=priya, now=now - timedelta(hours=2, minutes=40),
        body="Hi Helen,\n\nthanks for the quick report. The label service was still using the "
             "cached address; I have cleared it and reprinted a test label with the Antwerp "
             "address.\n\nCould you print one more from your side and tell me if it looks right?",
    )  # fmt: skip
    tickets.add_customer_message(
        ticket, contact=helen, now=now - timedelta(hours=2, minutes=10),
        body="That worked, thank you! The last few labels came out right.",
    )  # fmt: skip
    return ticket.number


def photograph() -> None:
    call_command("migrate", verbosity=0)
    number = build_desk(timezone.now())
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("Debian's chromium is not on the PATH.")
    with (
        run_server(
            DATABASE,
            data_dir=CONFIG.data_dir,
            secret_key=CONFIG.secret_key,
            log_path=WORK_DIR / "server.log",
        ) as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT, base_url=url)
        page.goto("/login/")
        page.get_by_label("Username").fill("priya")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("heading", name="Tickets").wait_for()
        page.goto(f"/tickets/{number}/")
        page.screenshot(path=OUTPUT)
        browser.close()


def main() -> None:
    try:
        photograph()
    finally:
        shutil.rmtree(WORK_DIR)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
