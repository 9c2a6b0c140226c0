"""The reads behind the contact and organization pages: search, filters, counts, local time."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.auth.models import User

from patron.core.errors import InvalidInput
from patron.people import services
from patron.people.models import Contact, CustomFieldDefinition, Role, Segment
from patron.tickets import merging
from patron.tickets import services as tickets
from patron.tickets.models import Status
from patron.tickets.queries import segment_counts
from patron.workspace import people_queries as queries
from tests import factories


def names(filters: queries.ContactFilters) -> list[str]:
    return [contact.name for contact in queries.contact_list(filters)]


def agent() -> User:
    return factories.agent(Role.AGENT, password=None)


@pytest.mark.django_db
def test_search_finds_a_contact_by_a_secondary_address_ignoring_case(now: datetime) -> None:
    jo = factories.contact(now=now, name="Jo Smith", email="jo@home.example")
    services.add_email(jo, "Jo.Smith@Work.Example", actor=agent())
    factories.contact(now=now, name="Sam Other", email="sam@home.example")

    assert names(queries.ContactFilters(search="jo.smith@WORK")) == ["Jo Smith"]


@pytest.mark.django_db
def test_search_finds_a_contact_by_phone(now: datetime) -> None:
    factories.contact(now=now, name="Jo Smith", phone="+44 20 7946 0000")
    factories.contact(now=now, name="Sam Other", phone="+1 555 0100")

    assert names(queries.ContactFilters(search="7946")) == ["Jo Smith"]


@pytest.mark.django_db
def test_a_contact_matching_by_two_addresses_is_listed_once(now: datetime) -> None:
    jo = factories.contact(now=now, name="Jo", email="jo@acme.example")
    services.add_email(jo, "jo.smith@acme.example", actor=agent())

    assert names(queries.ContactFilters(search="acme")) == ["Jo"]


@pytest.mark.django_db
def test_the_relationship_filter_follows_the_organization_unless_overridden(now: datetime) -> None:
    client_org = factories.organization(now=now, relationship="client")
    customer_org = factories.organization(now=now, relationship="customer")
    factories.contact(now=now, name="Inherits client", organization=client_org)
    factories.contact(
        now=now, name="Overridden customer", organization=client_org,
        relationship_override="customer",
    )  # fmt: skip
    factories.contact(now=now, name="Inherits customer", organization=customer_org)
    factories.contact(
        now=now, name="Own client", organization=customer_org, relationship_override="client"
    )
    factories.contact(now=now, name="Alone")

    assert names(queries.ContactFilters(relationship="client")) == ["Inherits client", "Own client"]
    assert names(queries.ContactFilters(relationship="customer")) == [
        "Alone",
        "Inherits customer",
        "Overridden customer",
    ]


@pytest.mark.django_db
def test_the_segment_filter_applies_the_saved_rule(now: datetime) -> None:
    gold = factories.organization(now=now, tier="gold")
    silver = factories.organization(now=now, tier="silver")
    factories.contact(now=now, name="Gold person", organization=gold)
    factories.contact(now=now, name="Silver person", organization=silver)
    Segment.objects.create(
        name="Gold", slug="gold", rule={"all": [{"field": "tier", "op": "eq", "value": "gold"}]}
    )

    assert names(queries.ContactFilters(segment="gold")) == ["Gold person"]


@pytest.mark.django_db
def test_an_unknown_segment_is_refused_with_its_name(now: datetime) -> None:
    with pytest.raises(InvalidInput, match="no segment called 'nope'"):
        queries.contact_list(queries.ContactFilters(segment="nope"))


@pytest.mark.django_db
def test_the_tier_and_custom_field_filters_narrow_the_list(now: datetime) -> None:
    CustomFieldDefinition.objects.create(
        applies_to="contact", key="plan", label="Plan", field_type="text"
    )
    gold = factories.organization(now=now, tier="Gold")
    factories.contact(now=now, name="Pro", organization=gold, custom_fields={"plan": "pro"})
    factories.contact(now=now, name="Free", organization=gold, custom_fields={"plan": "free"})
    factories.contact(now=now, name="Elsewhere", custom_fields={"plan": "pro"})

    filters = queries.ContactFilters.from_query({"tier": "gold", "custom.plan": "PRO"})

    assert names(filters) == ["Pro"]


@pytest.mark.django_db
def test_it_counts_only_open_tickets(now: datetime) -> None:
    jo = factories.contact(now=now, name="Jo")
    factories.ticket(now=now, requester=jo)
    solved = factories.ticket(now=now, requester=jo)
    tickets.change_status(solved, Status.SOLVED, actor=agent(), now=now)

    [row] = queries.contact_list(queries.ContactFilters())

    assert row.open_tickets == 1  # type: ignore[attr-defined]  # an annotation


@pytest.mark.django_db
def test_merged_contacts_are_not_listed(now: datetime) -> None:
    old = factories.contact(now=now, name="Old")
    new = factories.contact(now=now, name="New")
    merging.merge_contacts(old, new, actor=agent(), now=now)

    assert names(queries.ContactFilters()) == ["New"]


@pytest.mark.django_db
def test_local_time_is_the_contacts_wall_clock_with_the_zone_named(now: datetime) -> None:
    contact = Contact(time_zone="Asia/Tokyo")

    shown = queries.local_time(contact, now)  # 09:00 UTC

    assert shown is not None and shown.now is not None
    assert (shown.zone, shown.now.strftime("%H:%M")) == ("Asia/Tokyo", "18:00")


@pytest.mark.django_db
def test_organization_search_finds_by_domain(now: datetime) -> None:
    factories.organization(now=now, name="Acme", domains=("acme.example",))
    factories.organization(now=now, name="Globex", domains=("globex.example",))

    found = [o.name for o in queries.organization_list(search="ACME.ex")]

    assert found == ["Acme"]


@pytest.mark.django_db
def test_segment_counts_leave_out_contacts_merged_away(now: datetime) -> None:
    acme = factories.organization(now=now, name="Acme", tier="gold")
    kept = factories.contact(now=now, organization=acme)
    gone = factories.contact(now=now, organization=acme)
    factories.ticket(now=now, requester=gone)
    merging.merge_contacts(gone, kept, actor=factories.agent(Role.ADMIN, password=None), now=now)

    counts = segment_counts({"any": [{"field": "tier", "op": "eq", "value": "gold"}]})

    assert counts == {"contacts": 1, "organizations": 1, "tickets": 1}


@pytest.mark.django_db
def test_segment_counts_refuse_a_rule_without_conditions() -> None:
    with pytest.raises(InvalidInput, match="Add at least one condition"):
        segment_counts({"any": []})
