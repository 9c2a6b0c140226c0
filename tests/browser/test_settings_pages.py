"""The settings pages in Chromium: an admin creates a team and a custom field, and sees a
segment's live preview."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser
from playwright.sync_api import Page, expect

from patron.people.models import CustomFieldDefinition, Role, Team
from tests import factories

LogIn = Callable[[AbstractBaseUser], None]


def test_an_admin_creates_a_team_and_a_custom_field_through_the_settings_pages(
    page: Page, log_in: LogIn
) -> None:
    log_in(factories.agent(Role.ADMIN, password=None))

    page.goto("/tickets/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Agents", exact=True)).to_be_visible()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Teams").click()
    page.get_by_label("Name").fill("Billing")
    page.get_by_role("button", name="Create team").click()

    expect(page.get_by_role("status")).to_contain_text("Created the team Billing.")
    expect(page.get_by_role("cell", name="0 members")).to_be_visible()
    assert Team.objects.filter(name="Billing").exists()

    page.get_by_role("navigation", name="Settings").get_by_role(
        "link", name="Custom fields"
    ).click()
    page.get_by_role("link", name="New custom field").click()
    page.get_by_label("Applies to").select_option("ticket")
    page.get_by_label("Key").fill("plan")
    page.get_by_label("Label").fill("Plan")
    page.get_by_label("Type").select_option("choice")
    page.get_by_label("Choices").fill("basic\npro")
    page.get_by_role("button", name="Save field").click()

    expect(page).to_have_url(re.compile(r"/settings/custom-fields/$"))
    expect(page.get_by_role("status")).to_contain_text("Saved the ticket field Plan.")
    assert CustomFieldDefinition.objects.get(applies_to="ticket", key="plan").choices == [
        "basic",
        "pro",
    ]


def test_the_segment_builder_previews_matches_as_the_admin_types(page: Page, log_in: LogIn) -> None:
    log_in(factories.agent(Role.ADMIN, password=None))

    page.goto("/settings/segments/new/")
    page.get_by_label("Field 1").fill("relationship")
    page.get_by_label("Value 1").fill("client")

    expect(page.locator("#segment-preview")).to_contain_text(
        "Matches 0 contacts / 0 organizations / 0 tickets"
    )
    page.get_by_label("Value 1").fill("partner")
    expect(page.locator("#segment-preview")).to_contain_text(
        "Relationship must be client or customer"
    )
