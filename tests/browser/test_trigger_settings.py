"""Triggers in Chromium: an admin builds a trigger from a condition and two actions, previews
the tickets it would match, saves it, and then sees on a new ticket's timeline which trigger
changed it.

With PATRON_SCREENSHOTS=<folder> it also photographs the form with its preview there."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from playwright.sync_api import Page, expect

from patron.automation.models import Trigger
from patron.core import clock, events
from patron.people.models import Role
from tests import factories

LogIn = Callable[[AbstractBaseUser], None]


def test_an_admin_builds_previews_and_saves_a_trigger_and_sees_it_act(
    page: Page, log_in: LogIn
) -> None:
    now = clock.now()
    factories.ticket(now=now, priority="urgent", subject="Card stolen abroad")
    factories.ticket(now=now, subject="Where is my parcel")
    log_in(factories.agent(Role.ADMIN, password=None))

    page.goto("/settings/")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Triggers").click()
    page.get_by_role("link", name="New trigger").click()
    page.get_by_label("Name").fill("Urgent to the top")
    page.get_by_label("Field 1").fill("priority")
    page.get_by_label("Value 1").fill("urgent")
    page.get_by_label("Do 1").select_option(label="Add tags")
    page.get_by_label("With 1").fill("escalated")
    page.get_by_label("Do 2").select_option(label="Set status")
    page.get_by_label("With 2").fill("open")
    page.get_by_role("button", name="Preview matching tickets").click()

    preview = page.locator(".trigger-preview")
    expect(preview).to_contain_text("Matching now: 1 ticket")
    expect(preview).to_contain_text("Card stolen abroad")
    expect(preview).not_to_contain_text("Where is my parcel")
    expect(page.get_by_label("Name")).to_have_value("Urgent to the top")  # nothing lost
    if folder := os.environ.get("PATRON_SCREENSHOTS"):
        page.screenshot(path=Path(folder) / "trigger-form.png", full_page=True)
    page.get_by_role("button", name="Save trigger").click()

    expect(page.get_by_role("status")).to_contain_text("Saved the trigger Urgent to the top.")
    expect(page.locator(".rule-sentence")).to_contain_text(
        "When ticket is created, if Priority is Urgent: Add tags escalated; Set status to open"
    )
    assert Trigger.objects.get().actions[0] == {"type": "add_tags", "value": ["escalated"]}

    ticket = factories.ticket(now=clock.now(), priority="urgent", subject="Locked out")
    events.deliver_pending(now=lambda: clock.now() + timedelta(seconds=1))
    page.goto(f"/tickets/{ticket.number}/")
    page.locator("#timeline-summary").click()
    timeline = page.locator("#timeline-list")
    expect(timeline.get_by_text(re.compile("Trigger: Urgent to the top")).first).to_be_visible()
    expect(timeline).to_contain_text("escalated")
