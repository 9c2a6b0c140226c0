"""Agents: creating them with the Django access their role brings, and refusing unknown roles;
teams: who may create, rename and delete them, and when they cannot be deleted."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.auth.models import User

from patron.core.errors import InvalidInput, NotAllowed
from patron.people import agents
from patron.people.models import AgentProfile, Role, Team
from tests import factories


@pytest.mark.django_db
def test_it_makes_an_admin_a_django_superuser_too() -> None:
    profile = agents.create_agent(
        username="root", email="root@desk.example", password=None, role=Role.ADMIN
    )

    assert (profile.user.is_staff, profile.user.is_superuser) == (True, True)


@pytest.mark.django_db
def test_it_gives_an_agent_no_django_admin_access() -> None:
    profile = agents.create_agent(username="sam", email="sam@desk.example", password=None)

    assert (profile.role, profile.user.is_staff) == (Role.AGENT, False)


@pytest.mark.django_db
def test_it_refuses_an_unknown_role() -> None:
    with pytest.raises(InvalidInput, match="Role must be one of admin, supervisor"):
        agents.create_agent(username="x", email="x@desk.example", password=None, role="boss")

    assert not AgentProfile.objects.exists()


# Teams


def admin() -> User:
    return factories.agent(Role.ADMIN, password=None)


@pytest.mark.django_db
def test_it_creates_and_renames_a_team() -> None:
    team = agents.save_team(None, actor=admin(), name=" Billing ", description=" Money ")

    agents.save_team(team, actor=admin(), name="Invoices")

    assert Team.objects.values_list("name", "description").get() == ("Invoices", "")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "reason"),
    [("  ", "A team needs a name"), ("BILLING", "A team called 'BILLING' already exists")],
)
def test_it_refuses_a_team_without_a_name_or_with_a_taken_one(name: str, reason: str) -> None:
    agents.save_team(None, actor=admin(), name="Billing")

    with pytest.raises(InvalidInput, match=reason):
        agents.save_team(None, actor=admin(), name=name)

    assert Team.objects.count() == 1


@pytest.mark.django_db
def test_it_refuses_to_delete_a_team_tickets_belong_to(now: datetime) -> None:
    team = agents.save_team(None, actor=admin(), name="Billing")
    factories.ticket(now=now, team=team)

    with pytest.raises(InvalidInput, match="Billing cannot be deleted: 1 ticket belongs to it"):
        agents.delete_team(team, actor=admin())

    assert Team.objects.filter(pk=team.pk).exists()


@pytest.mark.django_db
def test_it_lets_only_admins_change_teams() -> None:
    team = agents.save_team(None, actor=admin(), name="Billing")
    agent = factories.agent(password=None)

    with pytest.raises(NotAllowed):
        agents.save_team(team, actor=agent, name="Invoices")
    with pytest.raises(NotAllowed):
        agents.delete_team(team, actor=agent)

    agents.delete_team(team, actor=admin())
    assert not Team.objects.exists()
