"""Each role against each object kind and action (DESIGN invariant 5)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User

from patron.core.errors import NotAllowed
from patron.people import permissions
from patron.people.models import Role, Team
from patron.tickets import services
from patron.tickets.models import Ticket
from tests import factories

AnyUser = User | AnonymousUser

ROLES = (
    "admin",
    "supervisor",
    "agent",
    "restricted agent",
    "light agent",
    "inactive agent",
    "user without agent profile",
    "anonymous",
)


def agent(role: str, **kwargs: Any) -> User:
    """An agent without a password hash (hashing is slow; nobody logs in here)."""
    return factories.agent(role, password=None, **kwargs)


def make_user(role: str, *, sales: Team) -> AnyUser:
    match role:
        case "admin":
            return agent(Role.ADMIN)
        case "supervisor":
            return agent(Role.SUPERVISOR)
        case "agent":
            return agent(Role.AGENT)
        case "restricted agent":
            return agent(Role.AGENT, teams=(sales,), restricted=True)
        case "light agent":
            return agent(Role.LIGHT_AGENT)
        case "inactive agent":
            user = agent(Role.ADMIN)
            user.is_active = False
            user.save()
            return user
        case "user without agent profile":
            return User.objects.create_user(username="visitor", password=None)
        case "anonymous":
            return AnonymousUser()
    raise AssertionError(role)


ACTIONS: dict[str, Callable[[AnyUser, Ticket], None]] = {
    "view ticket": permissions.check_view_ticket,
    "reply publicly": lambda user, ticket: permissions.check_reply(user, ticket, public=True),
    "add note": lambda user, ticket: permissions.check_reply(user, ticket, public=False),
    "change fields": permissions.check_change_ticket,
    "assign": permissions.check_change_ticket,
    "merge": permissions.check_change_ticket,
    "create ticket": lambda user, ticket: permissions.check_create_ticket(user),
    "manage contacts and organizations": lambda user, ticket: permissions.check_manage_people(user),
    "change organization relationship": lambda user, ticket: permissions.check_change_relationship(
        user
    ),
    "administer": lambda user, ticket: permissions.check_administer(user),
}

Y, N = True, False
# The ticket belongs to the Billing team; the restricted agent is in Sales only.
#                             view reply note change assign merge create people relat. admin
TABLE: dict[str, tuple[bool, ...]] = {
    "admin":                      (Y, Y, Y, Y, Y, Y, Y, Y, Y, Y),
    "supervisor":                 (Y, Y, Y, Y, Y, Y, Y, Y, Y, N),
    "agent":                      (Y, Y, Y, Y, Y, Y, Y, Y, N, N),
    "restricted agent":           (N, N, N, N, N, N, Y, Y, N, N),
    "light agent":                (Y, N, Y, N, N, N, N, N, N, N),
    "inactive agent":             (N, N, N, N, N, N, N, N, N, N),
    "user without agent profile": (N, N, N, N, N, N, N, N, N, N),
    "anonymous":                  (N, N, N, N, N, N, N, N, N, N),
}  # fmt: skip
assert set(TABLE) == set(ROLES)
assert all(len(row) == len(ACTIONS) for row in TABLE.values())

CASES = [
    pytest.param(role, action, allowed, id=f"{role} / {action} / {'yes' if allowed else 'no'}")
    for role, row in TABLE.items()
    for action, allowed in zip(ACTIONS, row, strict=True)
]


@pytest.fixture
def sales() -> Team:
    return factories.team("Sales")


@pytest.fixture
def billing_ticket(now: datetime) -> Ticket:
    return factories.ticket(now=now, team=factories.team("Billing"))


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "action", "allowed"), CASES)
def test_each_role_may_do_what_the_table_says(
    role: str, action: str, allowed: bool, sales: Team, billing_ticket: Ticket
) -> None:
    user = make_user(role, sales=sales)
    check = ACTIONS[action]

    if allowed:
        check(user, billing_ticket)
    else:
        with pytest.raises(NotAllowed) as raised:
            check(user, billing_ticket)
        assert str(raised.value).endswith(".")
        assert len(str(raised.value)) > 20


# The restricted agent, on the tickets they may see.


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["view ticket", "reply publicly", "add note", "change fields"])
def test_a_restricted_agent_may_work_on_their_teams_tickets(
    action: str, now: datetime, sales: Team
) -> None:
    seller = make_user("restricted agent", sales=sales)
    ticket = factories.ticket(now=now, team=sales)

    ACTIONS[action](seller, ticket)


@pytest.mark.django_db
def test_a_restricted_agent_may_open_another_teams_ticket_assigned_to_them(
    now: datetime, sales: Team, billing_ticket: Ticket
) -> None:
    seller = make_user("restricted agent", sales=sales)
    Ticket.objects.filter(pk=billing_ticket.pk).update(assignee=seller)
    billing_ticket.refresh_from_db()

    permissions.check_view_ticket(seller, billing_ticket)
    permissions.check_change_ticket(seller, billing_ticket)


@pytest.mark.django_db
def test_a_restricted_agent_may_not_open_a_ticket_without_a_team(
    now: datetime, sales: Team
) -> None:
    seller = make_user("restricted agent", sales=sales)

    assert not permissions.may_view_ticket(seller, factories.ticket(now=now))


# Readable reasons


@pytest.mark.django_db
def test_it_tells_a_restricted_agent_why_they_cannot_open_a_ticket(
    sales: Team, billing_ticket: Ticket
) -> None:
    seller = make_user("restricted agent", sales=sales)

    with pytest.raises(NotAllowed) as raised:
        permissions.check_view_ticket(seller, billing_ticket)

    assert str(raised.value) == (
        f"Ticket #{billing_ticket.number} belongs to a team you are not in."
    )


@pytest.mark.django_db
def test_it_tells_a_light_agent_to_add_a_note_instead_of_a_public_reply(
    now: datetime, sales: Team, billing_ticket: Ticket
) -> None:
    light = make_user("light agent", sales=sales)
    assert isinstance(light, User)

    with pytest.raises(NotAllowed) as raised:
        services.reply(billing_ticket, author=light, body="Hi", now=now)

    assert str(raised.value) == (
        "Light agents cannot reply to customers; add an internal note instead."
    )


@pytest.mark.django_db
def test_it_tells_a_user_without_an_agent_profile_that_only_agents_open_tickets(
    sales: Team, billing_ticket: Ticket
) -> None:
    visitor = make_user("user without agent profile", sales=sales)

    with pytest.raises(NotAllowed, match="Only agents can open tickets"):
        permissions.check_view_ticket(visitor, billing_ticket)


# visible_tickets filters as may_view_ticket decides


@pytest.fixture
def three_tickets(now: datetime, sales: Team) -> dict[str, Ticket]:
    return {
        "sales": factories.ticket(now=now, team=sales, subject="sales"),
        "billing": factories.ticket(now=now, team=factories.team("Billing"), subject="billing"),
        "no team": factories.ticket(now=now, subject="no team"),
    }


VISIBLE = {
    "admin": {"sales", "billing", "no team"},
    "supervisor": {"sales", "billing", "no team"},
    "agent": {"sales", "billing", "no team"},
    "restricted agent": {"sales"},
    "light agent": {"sales", "billing", "no team"},
    "inactive agent": set(),
    "user without agent profile": set(),
    "anonymous": set(),
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_visible_tickets_lists_exactly_the_tickets_each_role_may_open(
    role: str, sales: Team, three_tickets: dict[str, Ticket]
) -> None:
    user = make_user(role, sales=sales)

    visible = permissions.visible_tickets(user, Ticket.objects.all())

    assert {t.subject for t in visible} == VISIBLE[role]
    assert {t.subject for t in three_tickets.values() if permissions.may_view_ticket(user, t)} == (
        VISIBLE[role]
    )


@pytest.mark.django_db
def test_visible_tickets_includes_another_teams_ticket_assigned_to_a_restricted_agent(
    sales: Team, three_tickets: dict[str, Ticket]
) -> None:
    seller = make_user("restricted agent", sales=sales)
    Ticket.objects.filter(pk=three_tickets["billing"].pk).update(assignee=seller)

    visible = permissions.visible_tickets(seller, Ticket.objects.all())

    assert {t.subject for t in visible} == {"sales", "billing"}


@pytest.mark.django_db
def test_a_restricted_supervisor_still_sees_every_ticket(
    sales: Team, three_tickets: dict[str, Ticket]
) -> None:
    supervisor = agent(Role.SUPERVISOR, teams=(sales,), restricted=True)

    visible = permissions.visible_tickets(supervisor, Ticket.objects.all())

    assert visible.count() == 3


@pytest.mark.django_db
def test_it_knows_roles(sales: Team) -> None:
    assert permissions.role_of(make_user("light agent", sales=sales)) == Role.LIGHT_AGENT
    assert permissions.role_of(AnonymousUser()) is None
    assert permissions.is_admin(make_user("admin", sales=sales))
    assert not permissions.is_agent(make_user("inactive agent", sales=sales))
