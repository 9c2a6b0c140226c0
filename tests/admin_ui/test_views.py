"""The settings pages through Django's test client: admins only, forms that explain refusals,
and what each page changes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from patron.people.models import AgentProfile, CustomFieldDefinition, Role, Segment, Team
from tests import factories

pytestmark = pytest.mark.django_db

SETTINGS_PAGES: tuple[tuple[str, dict[str, str]], ...] = (
    ("settings_agents", {}),
    ("settings_agent_create", {}),
    ("settings_teams", {}),
    ("settings_custom_fields", {}),
    ("settings_custom_field_create", {}),
    ("settings_segments", {}),
    ("settings_segment_create", {}),
    ("settings_segment_preview", {}),
)


def make_agent(role: str = Role.AGENT, **kwargs: Any) -> User:
    return factories.agent(role, password=None, **kwargs)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin() -> Client:
    return logged_in(make_agent(Role.ADMIN, username="ada"))


def formset_rows(
    prefix: str,
    names: tuple[str, ...],
    rows: tuple[tuple[str, ...], ...],
    blank: tuple[str, ...],
    total: int,
) -> dict[str, str]:
    """What a browser posts for a formset of `total` rows, the first ones filled in."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "20",
    }
    for index in range(total):
        values = rows[index] if index < len(rows) else blank
        data |= {
            f"{prefix}-{index}-{name}": value for name, value in zip(names, values, strict=True)
        }
    return data


def condition_rows(*rows: tuple[str, str, str], total: int = 5) -> dict[str, str]:
    return formset_rows("conditions", ("field", "op", "value"), rows, ("", "eq", ""), total)


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR, Role.LIGHT_AGENT])
@pytest.mark.parametrize(("name", "kwargs"), SETTINGS_PAGES)
def test_each_settings_page_is_forbidden_to_non_admins_with_the_reason(
    role: str, name: str, kwargs: dict[str, Any]
) -> None:
    response = logged_in(make_agent(role)).get(reverse(name, kwargs=kwargs))

    assert response.status_code == 403
    assert "Only admins can change Patron" in response.content.decode()


@pytest.mark.parametrize(("name", "kwargs"), SETTINGS_PAGES)
def test_each_settings_page_opens_for_an_admin(
    admin: Client, name: str, kwargs: dict[str, Any]
) -> None:
    assert admin.get(reverse(name, kwargs=kwargs)).status_code == 200


def test_the_settings_link_shows_for_admins_only(admin: Client) -> None:
    agent = logged_in(make_agent())

    assert 'href="/settings/"' in admin.get(reverse("notification_list")).content.decode()
    assert 'href="/settings/"' not in agent.get(reverse("notification_list")).content.decode()


@pytest.mark.parametrize(
    "name", ["settings_agent_create", "settings_teams", "settings_custom_field_create",
             "settings_segment_create"]
)  # fmt: skip
def test_every_input_on_the_forms_has_a_label(admin: Client, name: str) -> None:
    page = admin.get(reverse(name)).content.decode()

    fields = re.findall(r"<(?:input|select|textarea)\b[^>]*>", page)
    ids = [
        re.search(r'\bid="([^"]+)"', tag).group(1)  # type: ignore[union-attr]
        for tag in fields
        if 'type="hidden"' not in tag and "topbar-q" not in tag
    ]
    assert ids
    assert [i for i in ids if f'for="{i}"' not in page] == []


def test_an_agent_created_with_a_generated_password_can_log_in_with_it(admin: Client) -> None:
    team = factories.team("Billing")

    response = admin.post(
        reverse("settings_agent_create"),
        {
            "username": "sam",
            "first_name": "Sam",
            "last_name": "Ito",
            "email": "sam@desk.example",
            "role": Role.AGENT,
            "teams": [team.pk],
        },
    )

    assert response.status_code == 200
    password = response.context["password"]
    assert password and password in response.content.decode()
    profile = AgentProfile.objects.get(user__username="sam")
    assert list(profile.teams.all()) == [team]
    assert Client().login(username="sam", password=password)


def test_an_agent_created_with_a_chosen_password_can_log_in_and_it_is_not_shown(
    admin: Client,
) -> None:
    response = admin.post(
        reverse("settings_agent_create"),
        {"username": "kim", "email": "kim@desk.example", "role": Role.SUPERVISOR,
         "password": "a long chosen secret"},
    )  # fmt: skip

    assert "a long chosen secret" not in response.content.decode()
    assert Client().login(username="kim", password="a long chosen secret")


def test_a_taken_username_is_refused_on_the_form(admin: Client) -> None:
    response = admin.post(
        reverse("settings_agent_create"),
        {"username": "ADA", "email": "x@y.example", "role": "agent"},
    )

    assert response.status_code == 400
    assert "The username &#x27;ADA&#x27; is taken." in response.content.decode()


def test_an_admin_edits_an_agents_role_teams_skills_and_capacity(admin: Client) -> None:
    team = factories.team("Returns")
    agent = make_agent()

    response = admin.post(
        reverse("settings_agent_edit", args=[agent.agent.pk]),
        {"role": Role.SUPERVISOR, "teams": [team.pk], "skills": "refunds, billing",
         "languages": "en, fr", "capacity": "7", "availability": "online", "active": "on"},
    )  # fmt: skip

    assert response.status_code == 302
    profile = AgentProfile.objects.get(user=agent)
    assert (profile.role, profile.capacity, profile.availability) == ("supervisor", 7, "online")
    assert (profile.skills, profile.languages) == (["billing", "refunds"], ["en", "fr"])
    assert list(profile.teams.all()) == [team]


def test_deactivating_an_agent_keeps_them_and_stops_their_login(admin: Client) -> None:
    agent = factories.agent(username="leaving")

    admin.post(
        reverse("settings_agent_edit", args=[agent.agent.pk]),
        {"role": Role.AGENT, "capacity": "20", "availability": "offline"},
    )

    assert get_user_model().objects.filter(username="leaving", is_active=False).exists()
    assert not Client().login(username="leaving", password="correct horse battery")


def test_the_last_admin_cannot_demote_themselves(admin: Client) -> None:
    me = AgentProfile.objects.get(user__username="ada")

    response = admin.post(
        reverse("settings_agent_edit", args=[me.pk]),
        {"role": Role.AGENT, "capacity": "20", "availability": "online", "active": "on"},
    )

    assert response.status_code == 400
    assert "Patron needs at least one active admin" in response.content.decode()
    assert AgentProfile.objects.get(pk=me.pk).role == Role.ADMIN


def test_the_last_admin_cannot_deactivate_themselves(admin: Client) -> None:
    me = AgentProfile.objects.get(user__username="ada")

    response = admin.post(
        reverse("settings_agent_edit", args=[me.pk]),
        {"role": Role.ADMIN, "capacity": "20", "availability": "online"},
    )

    assert response.status_code == 400
    assert get_user_model().objects.get(username="ada").is_active


def test_an_admin_may_step_down_when_another_admin_remains(admin: Client) -> None:
    make_agent(Role.ADMIN)
    me = AgentProfile.objects.get(user__username="ada")

    response = admin.post(
        reverse("settings_agent_edit", args=[me.pk]),
        {"role": Role.AGENT, "capacity": "20", "availability": "online", "active": "on"},
    )

    assert response.status_code == 302
    me.refresh_from_db()
    assert me.role == Role.AGENT and not me.user.is_staff


def test_teams_are_listed_with_their_member_counts(admin: Client) -> None:
    team = factories.team("Billing")
    make_agent(teams=(team,))
    make_agent(teams=(team,))

    page = admin.get(reverse("settings_teams")).content.decode()

    assert "Billing" in page and "2 members" in page


def test_an_admin_creates_and_renames_a_team(admin: Client) -> None:
    admin.post(reverse("settings_teams"), {"name": "Billing"})
    team = Team.objects.get(name="Billing")

    admin.post(reverse("settings_team_edit", args=[team.pk]), {"name": "Payments"})

    assert Team.objects.get(pk=team.pk).name == "Payments"


def test_a_duplicate_team_name_is_refused_on_the_form(admin: Client) -> None:
    factories.team("Billing")

    response = admin.post(reverse("settings_teams"), {"name": "billing"})

    assert response.status_code == 400
    assert "A team called &#x27;billing&#x27; already exists." in response.content.decode()


def test_a_team_with_tickets_cannot_be_deleted(admin: Client, now: datetime) -> None:
    team = factories.team("Billing")
    factories.ticket(now=now, team=team)

    response = admin.post(reverse("settings_team_delete", args=[team.pk]), follow=True)

    assert Team.objects.filter(pk=team.pk).exists()
    assert "Billing cannot be deleted: 1 ticket belongs to it." in response.content.decode()


def test_a_team_without_tickets_is_deleted(admin: Client) -> None:
    team = factories.team("Billing")

    admin.post(reverse("settings_team_delete", args=[team.pk]))

    assert not Team.objects.filter(pk=team.pk).exists()


def custom_field(**overrides: str) -> dict[str, str]:
    return {"applies_to": "contact", "key": "tier_code", "label": "Tier code",
            "field_type": "text", "choices": "", "position": "0"} | overrides  # fmt: skip


def test_an_admin_creates_a_choice_field_with_one_choice_per_line(admin: Client) -> None:
    response = admin.post(
        reverse("settings_custom_field_create"),
        custom_field(field_type="choice", choices="gold\r\nsilver\r\n\r\n", required="on"),
    )

    assert response.status_code == 302
    definition = CustomFieldDefinition.objects.get(key="tier_code")
    assert (definition.choices, definition.required) == (["gold", "silver"], True)


def test_a_duplicate_custom_field_key_is_refused_on_the_form(admin: Client) -> None:
    admin.post(reverse("settings_custom_field_create"), custom_field())

    response = admin.post(reverse("settings_custom_field_create"), custom_field(label="Other"))

    assert response.status_code == 400
    assert "a contact field with the key &#x27;tier_code&#x27; already exists" in (
        response.content.decode()
    )
    assert CustomFieldDefinition.objects.count() == 1


def test_the_same_key_may_be_used_for_another_kind(admin: Client) -> None:
    admin.post(reverse("settings_custom_field_create"), custom_field())

    response = admin.post(
        reverse("settings_custom_field_create"), custom_field(applies_to="ticket")
    )

    assert response.status_code == 302


def test_a_choice_field_without_choices_is_refused_on_the_form(admin: Client) -> None:
    response = admin.post(
        reverse("settings_custom_field_create"), custom_field(field_type="multi_choice")
    )

    assert response.status_code == 400
    assert "list at least one choice, one per line" in response.content.decode()


def test_a_custom_field_is_edited_and_deleted_after_confirmation(admin: Client) -> None:
    admin.post(reverse("settings_custom_field_create"), custom_field())
    definition = CustomFieldDefinition.objects.get()
    admin.post(
        reverse("settings_custom_field_edit", args=[definition.pk]),
        custom_field(label="Renamed", position="3"),
    )
    assert CustomFieldDefinition.objects.get().label == "Renamed"

    confirm = admin.get(reverse("settings_custom_field_delete", args=[definition.pk]))
    assert "Delete the contact field Renamed?" in confirm.content.decode()
    assert CustomFieldDefinition.objects.exists()

    admin.post(reverse("settings_custom_field_delete", args=[definition.pk]))
    assert not CustomFieldDefinition.objects.exists()


def test_the_segment_preview_counts_what_the_rule_matches(admin: Client, now: datetime) -> None:
    gold = factories.organization(now=now, relationship="client", tier="gold")
    factories.organization(now=now, relationship="client", tier="silver")
    member = factories.contact(now=now, organization=gold)
    factories.ticket(now=now, requester=member)
    factories.ticket(now=now, requester=member)
    factories.contact(now=now)

    response = admin.get(
        reverse("settings_segment_preview"),
        {"match": "all"} | condition_rows(("relationship", "eq", "client"), ("tier", "eq", "gold")),
    )

    assert "Matches 1 contact / 1 organization / 2 tickets" in response.content.decode()


def test_the_segment_preview_shows_why_a_rule_is_invalid(admin: Client) -> None:
    response = admin.get(
        reverse("settings_segment_preview"),
        {"match": "any"} | condition_rows(("colour", "eq", "red")),
    )

    assert "cannot use the field &#x27;colour&#x27;" in response.content.decode()


def test_an_admin_saves_a_segment_built_from_conditions(admin: Client) -> None:
    response = admin.post(
        reverse("settings_segment_create"),
        {"name": "Gold clients", "match": "all"}
        | condition_rows(("relationship", "eq", "client"), ("tier", "in", "gold, platinum")),
    )

    assert response.status_code == 302
    segment = Segment.objects.get(name="Gold clients")
    assert segment.rule == {
        "all": [
            {"field": "relationship", "op": "eq", "value": "client"},
            {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
        ]
    }
    page = admin.get(reverse("settings_segment_edit", args=[segment.pk])).content.decode()
    assert 'value="gold, platinum"' in page


def test_an_invalid_segment_rule_is_shown_on_the_form(admin: Client) -> None:
    response = admin.post(
        reverse("settings_segment_create"),
        {"name": "Odd", "match": "all"} | condition_rows(("relationship", "eq", "partner")),
    )

    assert response.status_code == 400
    assert "Relationship must be client or customer" in response.content.decode()
    assert not Segment.objects.filter(name="Odd").exists()


def test_built_in_segments_are_listed_read_only(admin: Client) -> None:
    page = admin.get(reverse("settings_segments")).content.decode()
    clients = Segment.objects.get(slug="clients")

    assert "Clients" in page and "Read-only" in page
    response = admin.post(
        reverse("settings_segment_edit", args=[clients.pk]),
        {"name": "Mine", "match": "all"} | condition_rows(("tier", "eq", "x")),
    )
    assert response.status_code == 400
    assert "built in and cannot be changed" in response.content.decode()


def test_segments_show_their_rule_as_a_sentence(admin: Client) -> None:
    segment = Segment.objects.create(
        name="Gold",
        slug="gold",
        rule={"all": [{"field": "tier", "op": "in", "value": ["gold", "platinum"]}]},
    )

    listed = admin.get(reverse("settings_segments")).content.decode()
    edited = admin.get(reverse("settings_segment_edit", args=[segment.pk])).content.decode()

    assert "Relationship is Client" in listed  # the built-in Clients
    assert "Tier is &quot;gold&quot; or &quot;platinum&quot;" in listed
    assert "Matches: Tier is &quot;gold&quot; or &quot;platinum&quot;" in edited
