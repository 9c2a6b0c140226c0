"""The SLA settings in Chromium: an admin sets up a Jakarta office calendar with a holiday and a
Gold clients policy in its business hours, and sees the policy listed in words.

With PATRON_SCREENSHOTS=<folder> it also photographs the filled policy form there (how
docs/screenshots/sla-policy-form.png is made)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from playwright.sync_api import Page, expect

from patron.people.models import Role
from patron.sla.models import BusinessCalendar, SlaPolicy
from tests import factories

LogIn = Callable[[AbstractBaseUser], None]
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


def test_an_admin_sets_up_a_jakarta_calendar_and_a_gold_clients_policy(
    page: Page, log_in: LogIn
) -> None:
    log_in(factories.agent(Role.ADMIN, password=None))

    page.goto("/settings/")
    settings_tabs = page.get_by_role("navigation", name="Settings")
    settings_tabs.get_by_role("link", name="Business calendars").click()
    page.get_by_role("link", name="New calendar").click()
    page.get_by_label("Name").fill("Jakarta office")
    page.get_by_label("Time zone").fill("Asia/Jakarta")
    for day in WEEKDAYS:
        page.get_by_label(day, exact=True).fill("09:00-17:00")
    page.get_by_role("button", name="Save calendar").click()

    expect(page.get_by_role("status")).to_contain_text("Saved the calendar Jakarta office.")
    page.get_by_label("First day").fill("2026-08-17")
    page.get_by_label("Holiday name").fill("Independence Day")
    page.get_by_role("button", name="Add holiday").click()
    expect(page.get_by_role("cell", name="Independence Day")).to_be_visible()

    settings_tabs.get_by_role("link", name="SLA policies").click()
    page.get_by_role("link", name="New SLA policy").click()
    page.get_by_label("Name").fill("Gold clients")
    page.get_by_label("Field 1").fill("relationship")
    page.get_by_label("Value 1").fill("client")
    page.get_by_label("Calendar").select_option(label="Jakarta office")
    page.get_by_label("First reply: measure").select_option("business")
    page.get_by_label("First reply: Normal target").fill("60")
    page.get_by_label("First reply: warn before").fill("30, 10")
    if folder := os.environ.get("PATRON_SCREENSHOTS"):
        page.screenshot(path=Path(folder) / "sla-policy-form.png", full_page=True)
    page.get_by_role("button", name="Save SLA policy").click()

    expect(page).to_have_url(re.compile(r"/settings/sla/policies/$"))
    expect(page.get_by_role("status")).to_contain_text("Saved the SLA policy Gold clients.")
    row = page.get_by_role("row").filter(has_text="Gold clients")
    expect(row).to_contain_text("Relationship is Client")
    expect(row).to_contain_text("First reply, business hours: Normal 1h")
    expect(row).to_contain_text("Jakarta office")

    calendar = BusinessCalendar.objects.get(name="Jakarta office")
    assert calendar.timezone == "Asia/Jakarta"
    assert calendar.hours == {day.lower(): [["09:00", "17:00"]] for day in WEEKDAYS}
    assert list(calendar.holidays.values_list("date", flat=True)) == [date(2026, 8, 17)]
    policy = SlaPolicy.objects.get(name="Gold clients")
    assert policy.calendar == calendar
    assert policy.metrics["first_reply"]["targets"] == {"normal": 60}
