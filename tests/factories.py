"""Builders for test data that go through the services, so tests see real events."""

from __future__ import annotations

import itertools
from datetime import datetime

from django.contrib.auth.models import User

from patron.people import agents
from patron.people import services as people
from patron.people.models import Contact, Organization, Role, Team
from patron.tickets import services as tickets
from patron.tickets.models import Ticket

_sequence = itertools.count(1)


def agent(
    role: str = Role.AGENT,
    *,
    teams: tuple[Team, ...] = (),
    restricted: bool = False,
    username: str | None = None,
    password: str | None = "correct horse battery",
) -> User:
    n = next(_sequence)
    username = username or f"{role.replace('_', '')}{n}"
    profile = agents.create_agent(
        username=username,
        email=f"{username}@desk.example",
        password=password,
        role=role,
        first_name=username.capitalize(),
        teams=teams,
        restricted_to_teams=restricted,
    )
    return profile.user


def team(name: str | None = None) -> Team:
    return Team.objects.create(name=name or f"Team {next(_sequence)}")


def organization(
    *,
    now: datetime,
    relationship: str = "customer",
    domains: tuple[str, ...] = (),
    **kwargs: object,
) -> Organization:
    n = next(_sequence)
    return people.create_organization(
        name=str(kwargs.pop("name", f"Org {n}")),
        relationship=relationship,
        domains=domains,
        now=now,
        **kwargs,  # type: ignore[arg-type]
    )


def contact(*, now: datetime, email: str | None = None, **kwargs: object) -> Contact:
    n = next(_sequence)
    return people.create_contact(
        email=email or f"person{n}@mail.example", name=str(kwargs.pop("name", f"Person {n}")),
        now=now, **kwargs  # type: ignore[arg-type]
    )  # fmt: skip


def ticket(*, now: datetime, requester: Contact | None = None, **kwargs: object) -> Ticket:
    requester = requester or contact(now=now)
    return tickets.create_ticket(
        requester=requester,
        subject=str(kwargs.pop("subject", "My order has not arrived")),
        body=str(kwargs.pop("body", "I ordered a week ago and nothing came.")),
        now=now,
        **kwargs,  # type: ignore[arg-type]
    )
