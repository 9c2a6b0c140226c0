"""The email settings in Chromium: an admin adds a mailbox, then retries a failed mail into a
ticket from the failed mail page."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime

from django.contrib.auth.models import AbstractBaseUser
from playwright.sync_api import Page, expect

from patron.mail.models import InboundMail, Mailbox
from patron.people.models import Role
from tests import factories

LogIn = Callable[[AbstractBaseUser], None]
RAW = (
    b"From: Noor Haddad <noor@customer.example>\r\nTo: support@desk.example\r\n"
    b"Subject: Parcel stuck in customs\r\nMessage-ID: <b1@customer.example>\r\n"
    b"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n\r\nWhere is my parcel?\r\n"
)


def test_an_admin_adds_a_mailbox_and_retries_a_failed_mail(page: Page, log_in: LogIn) -> None:
    log_in(factories.agent(Role.ADMIN, password=None))

    page.goto("/settings/")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Email").click()
    expect(page.get_by_role("heading", name="Mailboxes")).to_be_visible()
    page.get_by_role("link", name="New mailbox").click()
    page.get_by_label("Address").fill("Support@Desk.Example")
    page.get_by_label("Display name").fill("Support")
    page.get_by_label("Mail arrives by").select_option("pipe")
    page.get_by_label("SMTP password").fill("relay-secret")
    page.get_by_role("button", name="Create mailbox").click()

    expect(page.get_by_role("status")).to_contain_text("Saved the mailbox support@desk.example.")
    expect(page.get_by_label("SMTP password")).to_have_value("")  # write-only
    mailbox = Mailbox.objects.get()
    assert mailbox.smtp_password == "relay-secret"

    mail = InboundMail.objects.create(
        mailbox=mailbox,
        raw=RAW,
        sha256=hashlib.sha256(RAW).hexdigest(),
        size=len(RAW),
        source=InboundMail.Source.PIPE,
        received_at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
        state=InboundMail.State.FAILED,
        sender="noor@customer.example",
        subject="Parcel stuck in customs",
        reason="The database was restarted mid-way.",
        attempts=1,
    )
    page.get_by_role("navigation", name="Email settings").get_by_role(
        "link", name="Failed mail"
    ).click()
    row = page.locator(f"#mail-{mail.pk}")
    expect(row).to_contain_text("The database was restarted mid-way.")
    row.get_by_role("button", name=f"Retry mail {mail.pk}").click()

    expect(page.get_by_role("status")).to_contain_text(
        re.compile(rf"Mail {mail.pk} is now on ticket #\d+\.")
    )
    expect(page.get_by_role("cell", name="No mail here.")).to_be_visible()
    mail.refresh_from_db()
    assert mail.state == InboundMail.State.PROCESSED and mail.ticket is not None
