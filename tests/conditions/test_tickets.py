"""Rules over tickets: the ticket's own fields, its requester's and organization's, tags,
dates and custom fields, as the inbox's saved views use them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from patron.conditions import to_q
from patron.core.errors import InvalidInput
from patron.tickets.models import Ticket
from tests import factories


@pytest.mark.django_db
def test_it_filters_on_team_assignee_organization_and_dates(now: datetime) -> None:
    team = factories.team("Billing")
    agent = factories.agent(password=None)
    acme = factories.organization(now=now, name="Acme", tier="gold")
    old = factories.ticket(
        now=now - timedelta(days=10),
        requester=factories.contact(now=now, organization=acme),
        team=team,
        assignee=agent,
    )
    factories.ticket(now=now, team=team, assignee=agent)
    q = to_q(
        "ticket",
        {
            "all": [
                {"field": "team", "op": "eq", "value": "billing"},
                {"field": "assignee", "op": "eq", "value": agent.get_username()},
                {"field": "organization", "op": "eq", "value": "Acme"},
                {"field": "tier", "op": "in", "value": "gold, silver"},
                {
                    "field": "created",
                    "op": "before",
                    "value": (now - timedelta(days=5)).date().isoformat(),
                },
                {"field": "status", "op": "ne", "value": "closed"},
            ]
        },
    )

    assert list(Ticket.objects.filter(q)) == [old]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        (
            {"field": "colour", "op": "eq", "value": "red"},
            "A rule over tickets cannot use the field 'colour'",
        ),
        ({"field": "status", "op": "eq", "value": "lost"}, "'lost' is not a status"),
        ({"field": "status", "op": "like", "value": "new"}, "Unknown operator 'like'"),
        ({"field": "created", "op": "after", "value": "last week"}, "must look like 2026-11-23"),
        ({"field": "custom.a__b", "op": "eq", "value": "x"}, "does not name a custom field"),
        ({"field": "relationship", "op": "eq", "value": "vip"}, "client or customer"),
    ],
)
def test_it_explains_an_invalid_condition(condition: dict[str, str], reason: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(reason)):
        to_q("ticket", {"all": [condition]})


@pytest.mark.django_db
def test_it_filters_on_a_custom_field(now: datetime) -> None:
    pro, free = factories.ticket(now=now), factories.ticket(now=now)
    # Arrange the stored values directly: the condition only reads them.
    Ticket.objects.filter(pk=pro.pk).update(custom_fields={"plan": "Pro"})
    Ticket.objects.filter(pk=free.pk).update(custom_fields={"plan": "free"})

    q = to_q("ticket", {"all": [{"field": "custom.plan", "op": "eq", "value": "pro"}]})
    not_q = to_q("ticket", {"all": [{"field": "custom.plan", "op": "ne", "value": "pro"}]})

    assert list(Ticket.objects.filter(q)) == [pro]
    assert list(Ticket.objects.filter(not_q)) == [free]


@pytest.mark.django_db
def test_it_filters_on_tags_without_repeating_a_ticket_with_two_matching_tags(
    now: datetime,
) -> None:
    both = factories.ticket(now=now, tags=["refund", "refund-late"])
    factories.ticket(now=now, tags=["billing"])

    q = to_q("ticket", {"all": [{"field": "tag", "op": "contains", "value": "refund"}]})

    assert list(Ticket.objects.filter(q)) == [both]


@pytest.mark.django_db
def test_it_reaches_the_requesters_and_the_organizations_custom_fields(now: datetime) -> None:
    acme = factories.organization(now=now, name="Acme")
    person = factories.contact(now=now, organization=acme)
    theirs = factories.ticket(now=now, requester=person)
    factories.ticket(now=now)
    acme.custom_fields = {"contract": "Premium"}
    acme.save()
    person.custom_fields = {"vip": True}
    person.save()

    by_org = {"all": [{"field": "organization.custom.contract", "value": "premium"}]}
    by_contact = {"all": [{"field": "contact.custom.vip", "value": True}]}

    assert list(Ticket.objects.filter(to_q("ticket", by_org))) == [theirs]
    assert list(Ticket.objects.filter(to_q("ticket", by_contact))) == [theirs]


@pytest.mark.django_db
def test_it_selects_tickets_with_no_assignee_or_team_by_none(now: datetime) -> None:
    agent = factories.agent(password=None)
    nobodys = factories.ticket(now=now)
    factories.ticket(now=now, assignee=agent, team=factories.team("Billing"))

    unowned = {"all": [{"field": "assignee", "value": "none"}, {"field": "team", "value": ""}]}

    assert list(Ticket.objects.filter(to_q("ticket", unowned))) == [nobodys]


@pytest.mark.django_db
def test_it_refuses_contains_on_a_field_with_fixed_values() -> None:
    with pytest.raises(InvalidInput, match="Priority cannot be compared with 'contains'"):
        to_q("ticket", {"all": [{"field": "priority", "op": "contains", "value": "urg"}]})
