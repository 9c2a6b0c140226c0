"""The engine's promise: a rule's Q (SQL) and its Python evaluation pick the same rows, on
SQLite and on PostgreSQL, for any rule hypothesis can build from the fields of each target.

The population below covers the edges where SQL and Python usually part: no organization, a
relationship overridden either way, a missing custom key, a JSON null, numbers beside text,
mixed case, LIKE's wildcard characters, several tags, no assignee or team, timestamps either
side of midnight in a time zone that is not UTC. Out of scope, and documented in
docs/conditions.md: non-ASCII case folding (SQLite folds ASCII only) and comparing the
numbers 0 and 1 with true/false (SQLite has no boolean type).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import Model
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron import conditions
from patron.conditions import targets
from patron.people.models import Contact, Organization, Segment
from patron.tickets.models import Channel, Priority, Status, Ticket, TicketType
from tests import factories

ZONE = "America/New_York"
TEXT = ["gold", "GOLD", "Gold", "silver", "", "acme", "Acme Corp", "50%_off", "de", "en", "x_y"]
NUMBERS = [2, 3, 12, 40]
DATES = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"]
TAGS = ["vip", "VIP", "billing", "bill", "refund"]
KEYS = ["plan", "seats", "vip", "note"]
BASE = datetime(2026, 11, 22, 4, 30, tzinfo=UTC)  # 23:30 the day before in New York


@pytest.fixture
def population(now: datetime) -> dict[str, Any]:
    gold = factories.organization(now=BASE, name="Acme Corp", relationship="client", tier="gold")
    silver = factories.organization(now=BASE + timedelta(hours=2), name="50%_off", tier="Silver")
    plain = factories.organization(now=BASE + timedelta(days=1), name="Initech")
    Organization.objects.filter(pk=gold.pk).update(custom_fields={"plan": "Pro", "seats": 12})
    Organization.objects.filter(pk=silver.pk).update(custom_fields={"plan": None, "vip": True})
    kate = factories.agent(username="kate")
    factories.agent(username="omar")
    billing = factories.team("Billing")
    people = [
        factories.contact(now=BASE, organization=gold, language="de", email="ann@acme.example"),
        factories.contact(now=BASE, organization=gold, relationship_override="customer"),
        factories.contact(now=BASE, organization=silver, relationship_override="client"),
        factories.contact(now=BASE + timedelta(hours=5), organization=silver, language="EN"),
        factories.contact(now=BASE + timedelta(days=2), language="en", email="x_y@gold.example"),
        factories.contact(now=BASE + timedelta(days=1), organization=plain),
    ]
    customs: list[dict[str, Any]] = [
        {"plan": "gold"},
        {"seats": 3, "vip": False},
        {"plan": "GOLD", "note": "50%_off"},
        {},
        {"vip": True, "seats": 40},
        {"plan": None},
    ]
    for person, custom in zip(people, customs, strict=True):
        Contact.objects.filter(pk=person.pk).update(custom_fields=custom)
    statuses, priorities = list(Status.values), list(Priority.values)
    for n in range(14):
        ticket = factories.ticket(
            now=BASE + timedelta(hours=7 * n),
            requester=people[n % len(people)],
            subject=["Refund please", "GOLD plan", "x_y broken", "Hello"][n % 4],
            priority=priorities[n % len(priorities)],
            channel=list(Channel.values)[n % 3],
            tags=[TAGS[n % 5], TAGS[(n * 3) % 5]] if n % 4 else [],
            team=billing if n % 3 == 0 else None,
            assignee=kate if n % 2 else None,
        )
        Ticket.objects.filter(pk=ticket.pk).update(
            status=statuses[n % len(statuses)],
            type=list(TicketType.values)[n % 4] if n % 5 else "",
            custom_fields=customs[(n + 2) % len(customs)],
            updated_at=ticket.created_at + timedelta(hours=n * 3),
        )
    Segment.objects.create(
        name="Gold clients",
        slug="gold-clients",
        rule={
            "all": [{"field": "segment", "value": "clients"}, {"field": "tier", "value": "gold"}]
        },
    )
    return {"kate": kate, "billing": billing}


def _values(field: str) -> st.SearchStrategy[Any]:
    """Values worth comparing a field with: some that match, some that nearly do."""
    if field == "status":
        return st.sampled_from(Status.values)
    if field == "priority":
        return st.sampled_from(Priority.values)
    if field == "type":
        return st.sampled_from(TicketType.values)
    if field == "channel":
        return st.sampled_from(Channel.values)
    if field == "relationship":
        return st.sampled_from(["client", "customer"])
    if field in ("assignee", "account_manager"):
        return st.sampled_from(["kate", "KATE", "omar", "none"])
    if field == "team":
        return st.sampled_from(["billing", "Support", "none"])
    if field in ("created", "updated"):
        return st.sampled_from(DATES)
    if field == "tag":
        return st.sampled_from(TAGS)
    if field == "segment":
        return st.sampled_from(["clients", "customers", "gold-clients"])
    if field == "email":
        return st.sampled_from(["ann@acme.example", "ACME", "x_y", "gold", "nobody"])
    if ".custom." in field or field.startswith("custom."):
        return st.one_of(st.sampled_from(TEXT), st.sampled_from(NUMBERS), st.booleans())
    return st.sampled_from([*TEXT, "Refund please", "GOLD", "initech"])


def _fields(target: str) -> list[str]:
    names = conditions.field_names(target)
    return [n.replace("<key>", key) for n in names for key in (KEYS if "<key>" in n else [""])]


@st.composite
def _condition(draw: st.DrawFn, target: str) -> dict[str, Any]:
    field = draw(st.sampled_from(_fields(target)))
    ops = targets.resolve(target, field).ops
    op = draw(st.sampled_from(ops))
    if op == "in":
        value: Any = draw(st.lists(_values(field), min_size=1, max_size=3))
    elif op == "contains":
        value = draw(st.sampled_from([*TEXT, *TAGS, "x_y", "%", "_"]))
    else:
        value = draw(_values(field))
    return {"field": field, "op": op, "value": value}


def _rule(target: str) -> st.SearchStrategy[dict[str, Any]]:
    leaf = _condition(target)
    return st.recursive(
        st.builds(lambda m, c: {m: c}, st.sampled_from(["all", "any"]), st.lists(leaf, max_size=3)),
        lambda inner: st.builds(
            lambda m, c: {m: c},
            st.sampled_from(["all", "any"]),
            st.lists(st.one_of(leaf, inner), max_size=3),
        ),
        max_leaves=6,
    )


LOADERS: dict[str, tuple[type[Model], tuple[str, ...], tuple[str, ...]]] = {
    "ticket": (
        Ticket,
        ("requester__organization", "organization__account_manager", "assignee", "team"),
        ("tags", "requester__emails"),
    ),
    "contact": (Contact, ("organization__account_manager",), ("emails",)),
    "organization": (Organization, ("account_manager",), ()),
}


def _check(target: str, rule: dict[str, Any]) -> None:
    model, related, many = LOADERS[target]
    with timezone.override(ZONE):
        in_sql = set(
            model._default_manager.filter(conditions.to_q(target, rule)).values_list(
                "pk", flat=True
            )
        )
        rows = model._default_manager.select_related(*related).prefetch_related(*many)
        in_python = {row.pk for row in rows if conditions.matches(target, row, rule)}
    assert in_sql == in_python, conditions.describe(target, rule)


PROPERTY = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.django_db
@PROPERTY
@given(rule=_rule("ticket"))
def test_sql_and_python_agree_on_tickets(population: dict[str, Any], rule: dict[str, Any]) -> None:
    _check("ticket", rule)


@pytest.mark.django_db
@PROPERTY
@given(rule=_rule("contact"))
def test_sql_and_python_agree_on_contacts(population: dict[str, Any], rule: dict[str, Any]) -> None:
    _check("contact", rule)


@pytest.mark.django_db
@PROPERTY
@given(rule=_rule("organization"))
def test_sql_and_python_agree_on_organizations(
    population: dict[str, Any], rule: dict[str, Any]
) -> None:
    _check("organization", rule)


@pytest.mark.django_db
def test_the_population_makes_the_fields_discriminate(population: dict[str, Any]) -> None:
    """A property test over rows that all look alike would prove nothing: every field this
    test draws splits the tickets, so a wrong translation of it shows."""
    for rule in (
        {"all": [{"field": "relationship", "value": "client"}]},
        {"all": [{"field": "custom.plan", "value": "gold"}]},
        {"all": [{"field": "tag", "op": "contains", "value": "bill"}]},
        {"all": [{"field": "created", "op": "before", "value": "2026-11-23"}]},
        {"all": [{"field": "assignee", "value": "none"}]},
        {"all": [{"field": "segment", "value": "gold-clients"}]},
    ):
        selected = Ticket.objects.filter(conditions.to_q("ticket", rule)).count()
        assert 0 < selected < Ticket.objects.count(), rule
    assert isinstance(population["kate"], User)
