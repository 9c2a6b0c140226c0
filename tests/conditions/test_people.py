"""Rules over contacts and organizations (and tickets by their requester): relationship, tier,
organization, language, custom fields; the rules segments are made of."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from patron.conditions import to_q as rule_q
from patron.core.errors import InvalidInput
from patron.people.models import Contact, Organization, Segment
from patron.tickets.models import Ticket
from tests import factories


def rule(field: str, value: Any, op: str = "eq") -> dict[str, Any]:
    return {"all": [{"field": field, "op": op, "value": value}]}


def contacts(rule: dict[str, Any]) -> set[str]:
    return set(Contact.objects.filter(rule_q("contact", rule)).values_list("name", flat=True))


def organizations(rule: dict[str, Any]) -> set[str]:
    query = Organization.objects.filter(rule_q("organization", rule))
    return set(query.values_list("name", flat=True))


def tickets(rule: dict[str, Any]) -> set[str]:
    return set(Ticket.objects.filter(rule_q("ticket", rule)).values_list("subject", flat=True))


@pytest.fixture
def people(now: datetime) -> None:
    """Four contacts covering every way a relationship is decided.

    ann: in a client organization (gold) -> client
    bob: in a customer organization (silver) -> customer
    cat: in a customer organization but a client in her own right -> client
    dan: no organization -> customer
    eve: in a client organization but overridden to customer -> customer
    """
    globex = factories.organization(now=now, name="Globex", relationship="client", tier="gold")
    initech = factories.organization(now=now, name="Initech", tier="silver")
    factories.contact(now=now, name="ann", organization=globex, language="de")
    factories.contact(now=now, name="bob", organization=initech, language="en")
    factories.contact(now=now, name="cat", organization=initech, relationship_override="client")
    factories.contact(now=now, name="dan")
    factories.contact(now=now, name="eve", organization=globex, relationship_override="customer")


@pytest.mark.django_db
@pytest.mark.usefixtures("people")
def test_it_selects_clients_by_organization_or_their_own_right() -> None:
    assert contacts(Segment.objects.get(slug="clients").rule) == {"ann", "cat"}


@pytest.mark.django_db
@pytest.mark.usefixtures("people")
def test_it_selects_customers_including_people_without_an_organization() -> None:
    assert contacts(Segment.objects.get(slug="customers").rule) == {"bob", "dan", "eve"}


@pytest.mark.django_db
@pytest.mark.usefixtures("people")
def test_it_agrees_with_the_relationship_each_contact_reports() -> None:
    for value in ("client", "customer"):
        expected = {c.name for c in Contact.objects.all() if c.relationship == value}
        assert contacts(rule("relationship", value)) == expected


@pytest.mark.django_db
@pytest.mark.usefixtures("people")
def test_it_selects_everyone_who_is_not_a_client_with_ne() -> None:
    assert contacts(rule("relationship", "client", op="ne")) == {"bob", "dan", "eve"}


@pytest.mark.django_db
@pytest.mark.usefixtures("people")
def test_it_keeps_contacts_without_the_field_when_excluding_a_value_with_ne() -> None:
    assert contacts(rule("language", "de", op="ne")) == {"bob", "cat", "dan", "eve"}


@pytest.mark.django_db
@pytest.mark.usefixtures("people")
def test_it_keeps_contacts_without_an_organization_when_excluding_a_tier() -> None:
    assert contacts(rule("tier", "gold", op="ne")) == {"bob", "cat", "dan"}


@pytest.mark.django_db
@pytest.mark.usefixtures("people")
def test_it_selects_any_of_several_values_with_in() -> None:
    assert contacts(rule("tier", ["gold", "platinum"], op="in")) == {"ann", "eve"}


@pytest.mark.django_db
@pytest.mark.usefixtures("people")
def test_it_matches_text_ignoring_case() -> None:
    assert contacts(rule("organization", "GLOBEX")) == {"ann", "eve"}
    assert contacts(rule("organization", "tech", op="contains")) == {"bob", "cat"}


@pytest.mark.django_db
@pytest.mark.usefixtures("people")
def test_it_requires_every_condition_with_all() -> None:
    both = {
        "all": [
            {"field": "relationship", "value": "client"},
            {"field": "tier", "value": "gold"},
        ]
    }

    assert contacts(both) == {"ann"}


@pytest.mark.django_db
@pytest.mark.usefixtures("people")
def test_it_requires_one_condition_with_any() -> None:
    either = {
        "any": [
            {"field": "language", "value": "en"},
            {"field": "tier", "value": "gold"},
        ]
    }

    assert contacts(either) == {"ann", "bob", "eve"}


@pytest.mark.django_db
@pytest.mark.usefixtures("people")
def test_it_selects_nothing_with_an_empty_any_and_everything_with_an_empty_all() -> None:
    assert contacts({"any": []}) == set()
    assert contacts({"all": []}) == {"ann", "bob", "cat", "dan", "eve"}


@pytest.mark.django_db
@pytest.mark.usefixtures("people")
def test_it_selects_organizations_by_tier_and_relationship() -> None:
    assert organizations(rule("tier", "gold")) == {"Globex"}
    assert organizations(rule("relationship", "customer")) == {"Initech"}


@pytest.mark.django_db
def test_it_selects_tickets_by_the_relationship_of_their_requester(now: datetime) -> None:
    globex = factories.organization(now=now, name="Globex", relationship="client")
    client = factories.contact(now=now, organization=globex)
    loner = factories.contact(now=now, relationship_override="client")
    customer = factories.contact(now=now)
    factories.ticket(now=now, requester=client, subject="from a client org")
    factories.ticket(now=now, requester=loner, subject="from a client in own right")
    factories.ticket(now=now, requester=customer, subject="from a customer")

    assert tickets(rule("relationship", "client")) == {
        "from a client org",
        "from a client in own right",
    }
    assert tickets(rule("relationship", "customer")) == {"from a customer"}


@pytest.mark.django_db
def test_it_selects_tickets_by_status_and_priority(now: datetime) -> None:
    factories.ticket(now=now, subject="urgent", priority="urgent")
    factories.ticket(now=now, subject="normal")

    assert tickets(rule("priority", "urgent")) == {"urgent"}
    assert tickets(rule("status", "new")) == {"urgent", "normal"}


@pytest.mark.django_db
def test_it_selects_by_custom_field_values(now: datetime) -> None:
    factories.contact(now=now, name="ann")
    factories.contact(now=now, name="bob")
    Contact.objects.filter(name="ann").update(custom_fields={"plan": "Pro", "seats": 12})
    Contact.objects.filter(name="bob").update(custom_fields={"plan": "basic", "seats": 3})

    assert contacts(rule("custom.plan", "pro")) == {"ann"}
    assert contacts(rule("custom.seats", 3)) == {"bob"}
    assert contacts(rule("custom.plan", ["basic", "enterprise"], op="in")) == {"bob"}


@pytest.mark.django_db
def test_it_selects_tickets_by_a_boolean_custom_field(now: datetime) -> None:
    vip = factories.ticket(now=now, subject="vip")
    factories.ticket(now=now, subject="plain")
    Ticket.objects.filter(pk=vip.pk).update(custom_fields={"escalated": True})

    assert tickets(rule("custom.escalated", True)) == {"vip"}


@pytest.mark.parametrize(
    ("target", "bad_rule", "message"),
    [
        ("contact", rule("tier", "gold", op="gt"), "Unknown operator 'gt'"),
        ("contact", {"all": [{"op": "eq", "value": "x"}]}, "Each condition needs a field"),
        ("contact", rule("status", "open"), "A rule over contacts cannot use the field 'status'"),
        ("organization", rule("language", "de"), "cannot use the field 'language'"),
        ("contact", rule("relationship", "partner"), "client or customer, not 'partner'"),
        ("contact", rule("custom.", "x"), "field"),
        ("contact", rule("custom.plan__contains", "x"), "field"),
        ("agent", rule("tier", "gold"), "not agent"),
    ],
    ids=[
        "operator",
        "no field",
        "contact status",
        "organization language",
        "relationship value",
        "empty custom key",
        "lookup in custom key",
        "target",
    ],
)
@pytest.mark.django_db
def test_it_rejects_a_bad_rule_with_a_readable_message(
    target: str, bad_rule: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        list(Contact.objects.filter(rule_q(target, bad_rule)))


@pytest.mark.django_db
def test_it_keeps_contacts_without_a_custom_field_when_excluding_a_value(now: datetime) -> None:
    factories.contact(now=now, name="ann")
    factories.contact(now=now, name="bob")
    factories.contact(now=now, name="cat")
    Contact.objects.filter(name="ann").update(custom_fields={"plan": "pro"})
    Contact.objects.filter(name="bob").update(custom_fields={"plan": "basic"})

    assert contacts(rule("custom.plan", "pro", op="ne")) == {"bob", "cat"}
