"""The trigger settings pages through Django's test client: an admin builds a trigger from
conditions and actions, previews which tickets it would match before saving, saves it, sees it
act and its firing log, reorders and deletes it; nobody else may."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.test import Client
from django.urls import reverse

from patron.automation.models import Trigger
from patron.core import clock
from patron.people.models import Role
from patron.tickets.models import AuthorKind, Ticket, TicketEvent
from tests import factories
from tests.admin_ui.test_views import condition_rows, formset_rows, logged_in, make_agent
from tests.automation.test_triggers import drain

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> Client:
    return logged_in(make_agent(Role.ADMIN, username="ada"))


def action_rows(*rows: tuple[str, str], total: int = 5) -> dict[str, str]:
    return formset_rows("actions", ("type", "value"), rows, ("", ""), total)


def form(name: str, conditions: dict[str, str], actions: dict[str, str]) -> dict[str, object]:
    fields: dict[str, object] = {"name": name, "moments": ["created"], "match": "all"}
    return fields | {"active": "on"} | conditions | actions


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.AGENT])
def test_the_trigger_pages_are_for_admins_only(role: str) -> None:
    client = logged_in(make_agent(role, username=f"someone-{role}"))
    assert client.get(reverse("settings_triggers")).status_code == 403
    data = form("x", condition_rows(), action_rows(("add_tags", "a")))
    assert client.post(reverse("settings_trigger_create"), data).status_code == 403
    assert not Trigger.objects.exists()


def test_an_admin_previews_builds_and_watches_a_trigger_act(admin: Client, now: datetime) -> None:
    urgent = factories.ticket(now=now, priority="urgent", subject="Card stolen")
    factories.ticket(now=now, subject="Where is my parcel")
    data = form(
        "Urgent to the top",
        condition_rows(("priority", "eq", "urgent")),
        action_rows(("add_tags", "escalated, vip"), ("set_status", "open")),
    )

    shown = admin.post(reverse("settings_trigger_create"), data | {"preview": "1"})
    page = shown.content.decode()
    assert shown.status_code == 200 and "Matching now: 1 ticket" in page
    assert "Card stolen" in page and "Where is my parcel" not in page
    assert not Trigger.objects.exists()  # a preview saves nothing

    saved = admin.post(reverse("settings_trigger_create"), data)
    trigger = Trigger.objects.get()
    assert saved.status_code == 302
    assert trigger.actions == [
        {"type": "add_tags", "value": ["escalated", "vip"]},
        {"type": "set_status", "value": "open"},
    ]
    listing = admin.get(reverse("settings_triggers")).content.decode()
    assert "When ticket is created, if Priority is Urgent: Add tags escalated, vip" in listing

    later = factories.ticket(now=clock.now(), priority="urgent", subject="Locked out")
    drain(clock.now())
    assert sorted(Ticket.objects.get(pk=later.pk).tags.values_list("name", flat=True)) == [
        "escalated",
        "vip",
    ]
    assert not Ticket.objects.get(pk=urgent.pk).tags.exists()  # triggers act on events, not history
    timeline = admin.get(reverse("ticket_detail", args=[later.number])).content.decode()
    assert "Trigger: Urgent to the top" in timeline
    log = admin.get(reverse("settings_trigger_edit", args=[trigger.pk])).content.decode()
    assert f"#{later.number}" in log and "Acted" in log
    assert TicketEvent.objects.filter(ticket=later, actor_kind=AuthorKind.RULE).exists()


def test_a_wrong_trigger_is_refused_with_its_reason_and_keeps_what_was_typed(
    admin: Client,
) -> None:
    data = form("Bad", condition_rows(("colour", "eq", "red")), action_rows(("add_tags", "x")))
    response = admin.post(reverse("settings_trigger_create"), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "colour" in page and 'value="Bad"' in page
    no_action = form("Bad", condition_rows(), action_rows())
    assert (
        "at least one action"
        in admin.post(reverse("settings_trigger_create"), no_action).content.decode()
    )
    assert not Trigger.objects.exists()


def test_an_admin_reorders_and_deletes_triggers(admin: Client) -> None:
    for name in ("first", "second"):
        admin.post(
            reverse("settings_trigger_create"),
            form(name, condition_rows(), action_rows(("add_tags", name))),
        )
    second = Trigger.objects.get(name="second")
    admin.post(reverse("settings_trigger_move", args=[second.pk]), {"direction": "up"})
    assert list(Trigger.objects.values_list("name", flat=True)) == ["second", "first"]
    admin.post(reverse("settings_trigger_delete", args=[second.pk]))
    assert list(Trigger.objects.values_list("name", flat=True)) == ["first"]
