"""Contacts, organizations and segments: creation, addresses, merges, who may change them, and
how their changes reach the search index."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import Max

from patron.core import events
from patron.core.errors import InvalidInput, NotAllowed
from patron.people import services
from patron.people.models import (
    Contact,
    CustomFieldDefinition,
    Organization,
    Relationship,
    Role,
    Segment,
)
from patron.search import services as search
from patron.search.models import SearchDocument
from patron.tickets import merging
from patron.tickets import services as tickets
from patron.tickets.models import Ticket, TicketEvent
from tests import factories


@pytest.fixture
def agent() -> User:
    return factories.agent(password=None)


def last_event_id() -> int:
    return TicketEvent.objects.aggregate(last=Max("id"))["last"] or 0


# Contacts


@pytest.mark.django_db
def test_it_creates_a_contact_with_a_primary_address(now: datetime) -> None:
    contact = services.create_contact(email=" Jo.Smith@Acme.COM ", name=" Jo ", now=now)

    assert contact.name == "Jo"
    assert contact.primary_email == "Jo.Smith@acme.com"
    assert list(contact.emails.values_list("address", "primary")) == [("Jo.Smith@acme.com", True)]


@pytest.mark.django_db
def test_it_refuses_an_address_already_taken_in_another_case(now: datetime) -> None:
    services.create_contact(email="jo@acme.com", now=now)

    with pytest.raises(InvalidInput, match=r"Jo@acme\.com already belongs to another contact"):
        services.create_contact(email="Jo@Acme.com", now=now)

    assert Contact.objects.count() == 1


@pytest.mark.django_db
def test_it_refuses_something_that_is_not_an_address(now: datetime) -> None:
    with pytest.raises(InvalidInput, match="'jo at acme' is not an email address"):
        services.create_contact(email="jo at acme", now=now)


@pytest.mark.django_db
def test_it_refuses_an_unknown_relationship_override(now: datetime) -> None:
    with pytest.raises(InvalidInput, match="must be client or customer, not 'partner'"):
        services.create_contact(email="jo@acme.com", relationship_override="partner", now=now)


@pytest.mark.django_db
def test_it_attaches_a_new_contact_to_the_organization_of_its_domain(now: datetime) -> None:
    acme = factories.organization(now=now, name="Acme", domains=("acme.com",))

    contact = services.create_contact(email="jo@ACME.com", now=now)

    assert contact.organization == acme


@pytest.mark.django_db
def test_it_attaches_existing_contacts_when_an_organization_claims_their_domain(
    now: datetime,
) -> None:
    jo = factories.contact(now=now, email="jo@acme.com")
    other = factories.contact(now=now, email="sam@elsewhere.com")

    acme = services.create_organization(name="Acme", domains=["Acme.com"], now=now)

    jo.refresh_from_db()
    other.refresh_from_db()
    assert (jo.organization, other.organization) == (acme, None)


@pytest.mark.django_db
def test_it_refuses_an_organization_name_taken_in_another_case(now: datetime) -> None:
    services.create_organization(name="Acme", now=now)

    with pytest.raises(InvalidInput, match="'ACME' or one of its domains already exists"):
        services.create_organization(name="ACME", now=now)


@pytest.mark.django_db
def test_it_refuses_an_organization_without_a_name(now: datetime) -> None:
    with pytest.raises(InvalidInput, match="needs a name"):
        services.create_organization(name="  ", now=now)


@pytest.mark.django_db
def test_it_finds_a_contact_by_address_ignoring_case(now: datetime) -> None:
    contact = factories.contact(now=now, email="Jo@acme.com")

    assert services.find_contact("  jo@ACME.com ") == contact
    assert services.find_contact("nobody@acme.com") is None


@pytest.mark.django_db
def test_it_returns_the_existing_contact_for_a_known_address(now: datetime) -> None:
    contact = factories.contact(now=now, email="jo@acme.com")

    found = services.get_or_create_contact(email="JO@acme.com", name="Someone", now=now)

    assert found == contact
    assert Contact.objects.count() == 1


@pytest.mark.django_db
def test_it_adds_a_second_address_to_a_contact(now: datetime, agent: User) -> None:
    contact = factories.contact(now=now, email="jo@acme.com")

    services.add_email(contact, "jo.private@mail.example", actor=agent)

    assert services.find_contact("jo.private@mail.example") == contact
    assert contact.primary_email == "jo@acme.com"


@pytest.mark.django_db
def test_it_refuses_a_second_address_owned_by_someone_else(now: datetime, agent: User) -> None:
    factories.contact(now=now, email="sam@acme.com")
    jo = factories.contact(now=now, email="jo@acme.com")

    with pytest.raises(InvalidInput, match="already belongs to another contact"):
        services.add_email(jo, "SAM@acme.com", actor=agent)


@pytest.mark.django_db
def test_it_refuses_an_address_change_by_a_light_agent(now: datetime) -> None:
    light = factories.agent(Role.LIGHT_AGENT, password=None)

    with pytest.raises(NotAllowed, match="Only agents can change contacts"):
        services.add_email(factories.contact(now=now), "x@y.example", actor=light)


@pytest.mark.django_db
def test_it_validates_contact_custom_fields(now: datetime, agent: User) -> None:
    CustomFieldDefinition.objects.create(
        applies_to="contact", key="vip", label="VIP", field_type="checkbox"
    )
    contact = factories.contact(now=now)

    services.update_contact_fields(contact, {"vip": "yes"}, actor=agent)
    with pytest.raises(InvalidInput, match="VIP must be checked or unchecked"):
        services.update_contact_fields(contact, {"vip": "maybe"}, actor=agent)

    assert Contact.objects.get(pk=contact.pk).custom_fields == {"vip": True}


# Merging contacts


@pytest.fixture
def twins(now: datetime) -> tuple[Contact, Contact]:
    """The same person twice: an old address with tickets and a new one."""
    old = factories.contact(now=now, email="jo@old.example", phone="+44 20 1234", name="Jo")
    new = factories.contact(now=now, email="jo@new.example", name="Jo Smith")
    return old, new


@pytest.mark.django_db
def test_it_moves_the_addresses_of_a_merged_contact(
    now: datetime, agent: User, twins: tuple[Contact, Contact]
) -> None:
    old, new = twins

    merging.merge_contacts(old, new, actor=agent, now=now)

    assert sorted(new.emails.values_list("address", "primary")) == [
        ("jo@new.example", True),
        ("jo@old.example", False),
    ]
    assert services.find_contact("jo@old.example") == new


@pytest.mark.django_db
def test_it_moves_the_tickets_of_a_merged_contact_with_an_event_each(
    now: datetime, agent: User, twins: tuple[Contact, Contact]
) -> None:
    old, new = twins
    first = factories.ticket(now=now, requester=old)
    second = factories.ticket(now=now, requester=old)
    mark = last_event_id()
    merge_at = now + timedelta(days=1)

    merging.merge_contacts(old, new, actor=agent, now=merge_at)

    written = [
        (event.ticket_id, event.kind, event.data, event.actor_agent_id, event.at)
        for event in TicketEvent.objects.filter(id__gt=mark).order_by("id")
    ]
    change = {"from": old.pk, "to": new.pk}
    assert written == [
        (first.pk, "requester_changed", change, agent.pk, merge_at),
        (second.pk, "requester_changed", change, agent.pk, merge_at),
    ]
    assert set(Ticket.objects.values_list("requester_id", flat=True)) == {new.pk}


@pytest.mark.django_db
def test_it_moves_closed_tickets_of_a_merged_contact_too(
    now: datetime, agent: User, twins: tuple[Contact, Contact]
) -> None:
    old, new = twins
    ticket = factories.ticket(now=now, requester=old)
    tickets.change_status(ticket, "solved", actor=agent, now=now)
    tickets.change_status(ticket, "closed", actor=agent, now=now)

    merging.merge_contacts(old, new, actor=agent, now=now)

    assert Ticket.objects.get(pk=ticket.pk).requester_id == new.pk


@pytest.mark.django_db
def test_it_points_a_merged_contact_to_the_survivor_and_fills_its_gaps(
    now: datetime, agent: User, twins: tuple[Contact, Contact]
) -> None:
    old, new = twins

    merging.merge_contacts(old, new, actor=agent, now=now)

    old.refresh_from_db()
    new.refresh_from_db()
    assert old.merged_into == new
    assert (new.name, new.phone) == ("Jo Smith", "+44 20 1234")


@pytest.mark.django_db
def test_it_refuses_to_merge_a_contact_into_itself(
    now: datetime, agent: User, twins: tuple[Contact, Contact]
) -> None:
    old, _ = twins

    with pytest.raises(InvalidInput, match="cannot be merged into itself"):
        merging.merge_contacts(old, old, actor=agent, now=now)


@pytest.mark.django_db
def test_it_refuses_to_merge_a_contact_twice(
    now: datetime, agent: User, twins: tuple[Contact, Contact]
) -> None:
    old, new = twins
    merging.merge_contacts(old, new, actor=agent, now=now)

    with pytest.raises(InvalidInput, match="Jo was already merged into another contact"):
        merging.merge_contacts(old, factories.contact(now=now), actor=agent, now=now)


@pytest.mark.django_db
def test_it_refuses_to_merge_into_a_contact_that_was_merged_away(
    now: datetime, agent: User, twins: tuple[Contact, Contact]
) -> None:
    old, new = twins
    merging.merge_contacts(old, new, actor=agent, now=now)

    with pytest.raises(InvalidInput, match="Jo was merged into Jo Smith; merge into that one"):
        merging.merge_contacts(new, old, actor=agent, now=now)

    assert services.find_contact("jo@new.example") == Contact.objects.get(pk=new.pk)


@pytest.mark.django_db
def test_it_refuses_a_contact_merge_by_a_light_agent(
    now: datetime, twins: tuple[Contact, Contact]
) -> None:
    old, new = twins
    light = factories.agent(Role.LIGHT_AGENT, password=None)

    with pytest.raises(NotAllowed, match="Only agents can change contacts"):
        merging.merge_contacts(old, new, actor=light, now=now)

    assert Contact.objects.get(pk=old.pk).merged_into_id is None


# Organizations and agents


@pytest.mark.django_db
def test_it_lets_a_supervisor_make_an_organization_a_client(now: datetime) -> None:
    acme = factories.organization(now=now)
    contact = factories.contact(now=now, organization=acme)

    services.set_relationship(
        acme, Relationship.CLIENT, actor=factories.agent(Role.SUPERVISOR, password=None)
    )

    assert Organization.objects.get(pk=acme.pk).relationship == Relationship.CLIENT
    assert Contact.objects.get(pk=contact.pk).is_client


@pytest.mark.django_db
def test_it_refuses_a_relationship_change_by_an_agent(now: datetime, agent: User) -> None:
    acme = factories.organization(now=now)

    with pytest.raises(NotAllowed, match="Only supervisors and admins"):
        services.set_relationship(acme, Relationship.CLIENT, actor=agent)


@pytest.mark.django_db
def test_it_refuses_an_unknown_relationship(now: datetime) -> None:
    acme = factories.organization(now=now)

    with pytest.raises(InvalidInput, match="not 'vip'"):
        services.set_relationship(acme, "vip", actor=factories.agent(Role.ADMIN, password=None))


@pytest.mark.django_db
def test_it_keeps_the_builtin_segments_when_ensured_twice() -> None:
    services.ensure_builtin_segments()
    services.ensure_builtin_segments()

    assert sorted(Segment.objects.filter(builtin=True).values_list("slug", flat=True)) == [
        "clients",
        "customers",
    ]


@pytest.mark.django_db
def test_it_creates_a_contact_for_a_new_sender_despite_a_required_field(now: datetime) -> None:
    CustomFieldDefinition.objects.create(
        applies_to="contact", key="account", label="Account number", field_type="text",
        required=True,
    )  # fmt: skip

    contact = services.get_or_create_contact(email="new@mail.example", now=now)

    assert contact.primary_email == "new@mail.example"


# Segments


def admin() -> User:
    return factories.agent(Role.ADMIN, password=None)


@pytest.mark.django_db
def test_it_stores_a_segment_rule_in_the_engines_form() -> None:
    rule = {
        "all": [
            {"field": "relationship", "value": "client"},
            {"field": "tier", "op": "in", "value": "gold, platinum"},
        ]
    }

    segment = services.save_segment(None, actor=admin(), name=" Gold clients ", rule=rule)

    assert (segment.name, segment.slug) == ("Gold clients", "gold-clients")
    assert Segment.objects.get(pk=segment.pk).rule == {
        "all": [
            {"field": "relationship", "op": "eq", "value": "client"},
            {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
        ]
    }


@pytest.mark.django_db
def test_it_gives_a_segment_whose_name_slugifies_the_same_a_free_slug() -> None:
    rule = {"all": [{"field": "tier", "op": "eq", "value": "gold"}]}
    services.save_segment(None, actor=admin(), name="Gold", rule=rule)

    second = services.save_segment(None, actor=admin(), name="Gold!", rule=rule)

    assert second.slug == "gold-2"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"all": []}, "Add at least one condition"),
        ({"any": [{"field": "colour", "op": "eq", "value": "red"}]}, "cannot use the field"),
        ({"all": [{"field": "relationship", "value": "partner"}]}, "client or customer"),
    ],
)
def test_it_refuses_a_segment_rule_some_target_cannot_read(rule: dict, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        services.save_segment(None, actor=admin(), name="Odd", rule=rule)

    assert not Segment.objects.filter(name="Odd").exists()


@pytest.mark.django_db
def test_it_refuses_a_segment_name_taken_in_another_case() -> None:
    rule = {"all": [{"field": "tier", "op": "eq", "value": "gold"}]}
    services.save_segment(None, actor=admin(), name="Gold", rule=rule)

    with pytest.raises(InvalidInput, match="Name: a segment called 'GOLD' already exists"):
        services.save_segment(None, actor=admin(), name="GOLD", rule=rule)


@pytest.mark.django_db
def test_it_refuses_to_change_or_delete_a_builtin_segment() -> None:
    clients = Segment.objects.get(slug="clients")
    rule = {"all": [{"field": "tier", "op": "eq", "value": "x"}]}

    with pytest.raises(InvalidInput, match="built in and cannot be changed"):
        services.save_segment(clients, actor=admin(), name="Mine", rule=rule)
    with pytest.raises(InvalidInput, match="built in and cannot be deleted"):
        services.delete_segment(clients, actor=admin())

    assert Segment.objects.get(slug="clients").name == "Clients"


@pytest.mark.django_db
def test_it_lets_only_admins_change_segments(agent: User) -> None:
    rule = {"all": [{"field": "tier", "op": "eq", "value": "gold"}]}
    segment = services.save_segment(None, actor=admin(), name="Gold", rule=rule)

    with pytest.raises(NotAllowed):
        services.save_segment(None, actor=agent, name="Silver", rule=rule)
    with pytest.raises(NotAllowed):
        services.delete_segment(segment, actor=agent)

    services.delete_segment(segment, actor=admin())
    assert not Segment.objects.filter(name="Gold").exists()


# The search index


@pytest.mark.django_db
def test_a_change_reaches_the_search_index_through_the_outbox_alone(
    now: datetime, django_capture_on_commit_callbacks: Any
) -> None:
    contact = factories.contact(now=now, name="Pelham Grove")
    search.index_contacts([contact.pk])

    # Committed, receipts written, nothing delivered: the service itself does not re-index.
    with events.enqueue_held(), django_capture_on_commit_callbacks(execute=True):
        services.update_contact(contact, actor=admin(), now=now, name="Pelham Vale")
    document = SearchDocument.objects.get(kind="contact", object_id=contact.pk)
    assert document.title == "Pelham Grove"

    events.deliver_pending(now=lambda: now + timedelta(seconds=1))
    document.refresh_from_db()
    assert document.title == "Pelham Vale"


@pytest.mark.django_db
def test_a_new_contact_is_indexed_though_it_records_no_event(
    now: datetime, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        contact = services.create_contact(email="wren@mail.example", name="Wren", now=now)

    assert SearchDocument.objects.filter(kind="contact", object_id=contact.pk).exists()
