"""Load the demo desk by playing a plan through the services, with `now` values in the past.

Going through `patron.people.services` and `patron.tickets.services` (not bulk inserts) means
every ticket has the events, timeline and delivery receipts a real one would have. The consumers
then run here, in batches (`events.deliver_pending`), instead of as some 50,000 queued tasks for
the worker: the desk is complete, searchable and quiet the moment `patron demo` finishes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction

from patron.automation import services as automation
from patron.automation.presets import CLIENT_PRESETS, CUSTOMER_PRESETS
from patron.core import clock, events
from patron.demo.plan import (
    ADMIN_USERNAME,
    AGENTS,
    CLIENT_ORGANIZATIONS,
    CUSTOMER_ORGANIZATIONS,
    DEMO_DAYS,
    DEMO_SEED,
    DEMO_TICKETS,
    MARKER_ORGANIZATION,
    SUPERVISOR,
    TEAMS,
    DemoPlan,
    TicketSpec,
    plan_demo,
)
from patron.people import agents
from patron.people import services as people
from patron.people.models import AgentProfile, Contact, Organization, Team
from patron.sla import services as sla
from patron.tickets import services as tickets
from patron.tickets.models import Ticket

TICKETS_PER_TRANSACTION = 250
AGENT_EMAIL_DOMAIN = "desk.example"
# People existed before the 90 days of tickets began.
CLIENTS_SINCE = timedelta(days=3 * 365)
CONTACTS_SINCE = timedelta(days=DEMO_DAYS + 30)


# Stages reported to `progress(stage, done, total)`.
LOADING = "Loading demo tickets"
DELIVERING = "Notifications and search index"


@dataclass(frozen=True)
class LoadResult:
    loaded: bool  # False when the demo data was already there and nothing was done
    tickets: int = 0
    contacts: int = 0
    organizations: int = 0
    seconds: float = 0.0


def is_loaded() -> bool:
    return Organization.objects.filter(name=MARKER_ORGANIZATION).exists()


def load_demo(
    *,
    now: datetime | None = None,
    tickets: int = DEMO_TICKETS,
    seed: int = DEMO_SEED,
    progress: Callable[[str, int, int], None] | None = None,
) -> LoadResult:
    """Create the demo desk unless it is already there; `progress(stage, done, total)` reports
    each stage (LOADING, then DELIVERING).

    Tickets are written in transactions of TICKETS_PER_TRANSACTION (far faster on SQLite than
    one per service call). Loading twice does nothing the second time.
    """
    if is_loaded():
        return LoadResult(loaded=False)
    started = time.perf_counter()
    plan = plan_demo(now=now or clock.now().replace(microsecond=0), tickets=tickets, seed=seed)
    report = progress or (lambda stage, done, total: None)
    with events.enqueue_held():
        with transaction.atomic():
            cast = _load_people(plan)
            _load_service_levels(plan.now)
        for first in range(0, len(plan.tickets), TICKETS_PER_TRANSACTION):
            batch = plan.tickets[first : first + TICKETS_PER_TRANSACTION]
            with transaction.atomic():
                for spec in batch:
                    _play(spec, cast)
            report(LOADING, first + len(batch), len(plan.tickets))
    events.deliver_pending(
        now=clock.now, progress=lambda done, total: report(DELIVERING, done, total)
    )
    # The presets act from here on, not on the history just loaded.
    automation.install_presets(CLIENT_PRESETS + CUSTOMER_PRESETS, now=plan.now)
    return LoadResult(
        loaded=True,
        tickets=len(plan.tickets),
        contacts=len(plan.contacts),
        organizations=len(CLIENT_ORGANIZATIONS) + len(CUSTOMER_ORGANIZATIONS),
        seconds=time.perf_counter() - started,
    )


def _load_service_levels(now: datetime) -> None:
    """Two policies, the desk's two kinds of people: clients promised replies in business
    hours, customers in calendar time (docs/sla.md)."""
    office = sla.save_calendar(
        None,
        {
            "name": "Office hours",
            "timezone": settings.TIME_ZONE,
            "hours": {
                day: [["09:00", "17:00"]]
                for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
            },
        },
    )
    paused = {"resolution": ["pending", "on_hold"]}
    sla.save_policy(
        None,
        {
            "name": "Gold clients",
            "description": "What the client agreements promise.",
            "rule": {"all": [{"field": "relationship", "op": "eq", "value": "client"}]},
            "calendar": office,
            "metrics": {
                "first_reply": {
                    "measure": "business",
                    "targets": {"urgent": 15, "high": 30, "normal": 60, "low": 120},
                    "warning_minutes": [30, 10],
                },
                "next_reply": {"measure": "business", "targets": {"urgent": 60, "normal": 120}},
                "resolution": {"measure": "business", "targets": {"urgent": 240, "normal": 960}},
            },
            "pause_rules": paused,
        },
        now=now,
    )
    sla.save_policy(
        None,
        {
            "name": "Customers",
            "metrics": {
                "first_reply": {
                    "measure": "calendar",
                    "targets": {"urgent": 120, "high": 240, "normal": 480, "low": 960},
                    "warning_minutes": [60],
                },
                "resolution": {"measure": "calendar", "targets": {"normal": 4320}},
            },
            "pause_rules": paused,
        },
        now=now,
    )


@dataclass(frozen=True)
class _Cast:
    """The database objects a plan's names refer to."""

    agents: dict[str, User]
    teams: dict[str, Team]
    contacts: dict[str, Contact]


def _load_people(plan: DemoPlan) -> _Cast:
    people.ensure_builtin_segments()
    teams = {
        name: Team.objects.get_or_create(name=name, defaults={"description": description})[0]
        for name, description in TEAMS
    }
    agents = {spec.username: _agent(spec.username, teams) for spec in AGENTS}
    organizations: dict[str, Organization] = {}
    for org in (*CLIENT_ORGANIZATIONS, *CUSTOMER_ORGANIZATIONS):
        organizations[org.name] = people.create_organization(
            name=org.name,
            relationship=org.relationship,
            tier=org.tier,
            domains=org.domains,
            account_manager=agents[org.account_manager] if org.account_manager else None,
            now=plan.now - CLIENTS_SINCE,
        )
    contacts = {
        spec.email: people.create_contact(
            email=spec.email,
            name=spec.name,
            organization=organizations.get(spec.organization),
            relationship_override=spec.relationship_override,
            language=spec.language,
            time_zone=spec.time_zone,
            phone=spec.phone,
            now=plan.now - CONTACTS_SINCE,
        )
        for spec in plan.contacts
    }
    return _Cast(agents=agents, teams=teams, contacts=contacts)


def _agent(username: str, teams: dict[str, Team]) -> User:
    """The plan's agent; an existing user (the admin `patron demo` made) joins its teams."""
    spec = next(a for a in AGENTS if a.username == username)
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        return agents.create_agent(
            username=username,
            email=f"{username}@{AGENT_EMAIL_DOMAIN}",
            password=None,
            role=spec.role,
            first_name=spec.first_name,
            last_name=spec.last_name,
            teams=[teams[name] for name in spec.teams],
        ).user
    profile = AgentProfile.objects.filter(user=user).first()
    if profile is None:
        # A user without an agent profile (say, made by `manage createsuperuser`) cannot work
        # tickets; the supervisor stands in for them.
        return _agent(SUPERVISOR, teams) if username != SUPERVISOR else user
    profile.teams.add(*(teams[name] for name in spec.teams))
    return user


def _play(spec: TicketSpec, cast: _Cast) -> Ticket:
    requester = cast.contacts[spec.requester]
    ticket = tickets.create_ticket(
        requester=requester,
        subject=spec.subject,
        body=spec.body,
        now=spec.created_at,
        actor=cast.agents[spec.on_behalf_of] if spec.on_behalf_of else None,
        channel=spec.channel,
        priority=spec.priority,
        type=spec.type,
        team=cast.teams[spec.team],
        tags=spec.tags,
    )
    for step in spec.steps:
        actor = cast.agents.get(step.actor)
        match step.kind:
            case "assign":
                assert actor is not None
                tickets.assign(ticket, cast.agents[step.assignee], actor=actor, now=step.at)
            case "reply":
                assert actor is not None
                tickets.reply(ticket, author=actor, body=step.body, now=step.at, status=step.status)
            case "note":
                assert actor is not None
                tickets.add_note(ticket, author=actor, body=step.body, now=step.at)
            case "customer":
                tickets.add_customer_message(ticket, contact=requester, body=step.body, now=step.at)
            case "status":
                assert actor is not None and step.status is not None
                tickets.change_status(ticket, step.status, actor=actor, now=step.at)
            case _:
                raise ValueError(f"Unknown demo step {step.kind!r}")
    return ticket


__all__ = ["ADMIN_USERNAME", "LoadResult", "is_loaded", "load_demo"]
