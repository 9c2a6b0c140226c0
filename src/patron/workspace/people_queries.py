"""Reads that the contact and organization pages (and later the API) share: people with their
tickets, so they sit above both the people and the tickets apps.

Every read here runs a fixed number of queries however many rows it returns: counts are
annotated, addresses and domains prefetched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from patron import conditions
from patron.conditions.fields import CUSTOM_KEY
from patron.core.errors import InvalidInput
from patron.people.models import (
    Contact,
    ContactEmail,
    CustomFieldDefinition,
    Organization,
    PeopleEvent,
    Relationship,
    Segment,
)
from patron.tickets import sentences
from patron.tickets.models import Ticket, TicketEvent
from patron.tickets.queries import OPEN_STATUSES

TIMELINE_LENGTH = 50
TIMELINE_MAX = 1000
CUSTOM_PREFIX = "custom."


@dataclass(frozen=True)
class ContactFilters:
    """What the contact list was asked for, parsed from the query string."""

    search: str = ""
    relationship: str = ""
    segment: str = ""
    tier: str = ""
    custom: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> ContactFilters:
        custom = {
            key.removeprefix(CUSTOM_PREFIX): value.strip()
            for key, value in query.items()
            if key.startswith(CUSTOM_PREFIX) and value.strip()
        }
        return cls(
            search=query.get("q", "").strip(),
            relationship=query.get("relationship", ""),
            segment=query.get("segment", ""),
            tier=query.get("tier", "").strip(),
            custom=custom,
        )


def _open_tickets() -> Count:
    return Count(
        "tickets",
        filter=Q(tickets__status__in=OPEN_STATUSES, tickets__merged_into__isnull=True),
        distinct=True,
    )


def contact_list(filters: ContactFilters) -> QuerySet[Contact]:
    """Contacts matching the filters, with their organization, addresses and open-ticket count.

    Raises InvalidInput for a filter that cannot be applied (an unknown segment or field)."""
    contacts = Contact.objects.filter(merged_into__isnull=True)
    if filters.search:
        term = filters.search
        by_address = ContactEmail.objects.filter(address__icontains=term).values("contact_id")
        contacts = contacts.filter(
            Q(name__icontains=term) | Q(phone__icontains=term) | Q(pk__in=by_address)
        )
    if filters.relationship:
        contacts = contacts.filter(
            conditions.to_q(
                "contact", {"all": [{"field": "relationship", "value": filters.relationship}]}
            )
        )
    if filters.segment:
        segment = Segment.objects.filter(slug=filters.segment).first()
        if segment is None:
            raise InvalidInput(f"There is no segment called {filters.segment!r}.")
        contacts = contacts.filter(conditions.to_q("contact", segment.rule))
    if filters.tier:
        contacts = contacts.filter(organization__tier__iexact=filters.tier)
    for key, value in filters.custom.items():
        if not CUSTOM_KEY.fullmatch(key):
            raise InvalidInput(f"{key!r} does not name a custom field.")
        condition = {"field": f"{CUSTOM_PREFIX}{key}", "value": value}
        contacts = contacts.filter(conditions.to_q("contact", {"all": [condition]}))
    return (
        contacts.select_related("organization")
        .prefetch_related("emails")
        .annotate(open_tickets=_open_tickets())
        .order_by("name", "id")
    )


def contact_for_page(contact_id: int) -> Contact:
    contact = (
        Contact.objects.select_related("organization", "merged_into")
        .prefetch_related("emails", "merged_into__emails")
        .filter(pk=contact_id)
        .first()
    )
    if contact is None:
        raise Http404(f"There is no contact {contact_id}.")
    return contact


def contact_tickets(contact: Contact) -> QuerySet[Ticket]:
    """All of a contact's tickets, newest first."""
    return contact.tickets.select_related("assignee", "organization").order_by("-created_at", "-id")


@dataclass(frozen=True)
class Activity:
    """One line of a timeline, from a ticket's events or a contact's or organization's own."""

    at: datetime
    who: str
    what: str
    ticket: Ticket | None = None


def _ticket_activity(event: TicketEvent) -> Activity:
    who = sentences.actor(event)
    what = event.get_kind_display()
    if event.data.get("field"):
        what += f": {event.data['field']} → {event.data.get('to')}"
    return Activity(at=event.at, who=who, what=what, ticket=event.ticket)


def _people_activity(event: PeopleEvent) -> Activity:
    what = event.get_kind_display()
    data: dict[str, Any] = event.data
    if event.kind == PeopleEvent.Kind.RELATIONSHIP_CHANGED:
        what += f": {str(data.get('from')).capitalize()} → {str(data.get('to')).capitalize()}"
    elif event.kind == PeopleEvent.Kind.UPDATED and data.get("fields"):
        what += ": " + ", ".join(str(f).replace("_", " ") for f in data["fields"])
    elif event.kind == PeopleEvent.Kind.EMAIL_ADDED:
        what += f": {data.get('address')}"
    elif event.kind == PeopleEvent.Kind.ATTACHED and event.contact is not None:
        what += f": {event.contact}"
    return Activity(at=event.at, who=sentences.person(event.actor, missing="System"), what=what)


def _merge_timelines(
    ticket_events: QuerySet[TicketEvent], people_events: QuerySet[PeopleEvent], limit: int
) -> tuple[list[Activity], bool]:
    """Both streams newest first, cut at `limit`; and whether more remain."""
    tickets = list(
        ticket_events.select_related("ticket", "actor_agent", "actor_contact")
        .prefetch_related("actor_contact__emails")
        .order_by("-at", "-id")[: limit + 1]
    )
    people = list(
        people_events.select_related("actor", "contact")
        .prefetch_related("contact__emails")
        .order_by("-at", "-id")[: limit + 1]
    )
    lines = [_ticket_activity(e) for e in tickets] + [_people_activity(e) for e in people]
    lines.sort(key=lambda line: line.at, reverse=True)
    return lines[:limit], len(lines) > limit


def clamp_limit(raw: str | None) -> int:
    try:
        wanted = int(raw or TIMELINE_LENGTH)
    except ValueError:
        wanted = TIMELINE_LENGTH
    return max(1, min(wanted, TIMELINE_MAX))


def contact_timeline(contact: Contact, *, limit: int) -> tuple[list[Activity], bool]:
    return _merge_timelines(
        TicketEvent.objects.filter(ticket__requester=contact),
        PeopleEvent.objects.filter(contact=contact),
        limit,
    )


def organization_timeline(organization: Organization, *, limit: int) -> tuple[list[Activity], bool]:
    left = Q(kind=PeopleEvent.Kind.ATTACHED, data__from=organization.pk)
    return _merge_timelines(
        TicketEvent.objects.filter(ticket__organization=organization),
        PeopleEvent.objects.filter(Q(organization=organization) | left),
        limit,
    )


@dataclass(frozen=True)
class LocalTime:
    zone: str
    now: datetime | None  # None when the stored zone is not one we know


def local_time(contact: Contact, now: datetime) -> LocalTime | None:
    """The contact's wall-clock time now, with the zone named; None when no zone is set."""
    if not contact.time_zone:
        return None
    try:
        zone = ZoneInfo(contact.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return LocalTime(zone=contact.time_zone, now=None)
    return LocalTime(zone=contact.time_zone, now=now.astimezone(zone))


def relationship_source(contact: Contact) -> str:
    """Why the contact has the relationship shown: set on them, or from their organization."""
    if contact.relationship_override:
        return "set on this contact"
    if contact.organization is not None:
        return f"from {contact.organization.name}"
    return "the default for people without an organization"


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def custom_field_rows(applies_to: str, values: Mapping[str, object]) -> list[tuple[str, str]]:
    """(label, value as text) for each field that has a value, in the admin's order."""
    definitions = list(CustomFieldDefinition.objects.filter(applies_to=applies_to))
    rows = [(d.label, _shown(values[d.key])) for d in definitions if d.key in values]
    known = {d.key for d in definitions}
    return rows + [(key, _shown(value)) for key, value in values.items() if key not in known]


def contact_by_email(address: str) -> Contact | None:
    email = ContactEmail.objects.select_related("contact").filter(address__iexact=address.strip())
    found = email.first()
    return found.contact if found else None


# Organizations


def organization_list(
    *, search: str = "", relationship: str = "", tier: str = ""
) -> QuerySet[Organization]:
    organizations = Organization.objects.all()
    if search:
        organizations = organizations.filter(
            Q(name__icontains=search) | Q(domains__domain__icontains=search)
        ).distinct()
    if relationship in Relationship.values:
        organizations = organizations.filter(relationship=relationship)
    if tier:
        organizations = organizations.filter(tier__iexact=tier)
    return (
        organizations.select_related("account_manager")
        .prefetch_related("domains")
        .annotate(
            contact_count=Count(
                "contacts", filter=Q(contacts__merged_into__isnull=True), distinct=True
            ),
            open_tickets=Count(
                "tickets",
                filter=Q(tickets__status__in=OPEN_STATUSES, tickets__merged_into__isnull=True),
                distinct=True,
            ),
        )
        .order_by("name", "id")
    )


def organization_for_page(organization_id: int) -> Organization:
    contacts = (
        Contact.objects.filter(merged_into__isnull=True)
        .prefetch_related("emails")
        .annotate(open_tickets=_open_tickets())
        .order_by("name", "id")
    )
    organization = (
        Organization.objects.select_related("account_manager")
        .prefetch_related("domains", Prefetch("contacts", queryset=contacts))
        .filter(pk=organization_id)
        .first()
    )
    if organization is None:
        raise Http404(f"There is no organization {organization_id}.")
    return organization


def organization_tickets(organization: Organization) -> QuerySet[Ticket]:
    return (
        organization.tickets.select_related("requester", "assignee")
        .prefetch_related("requester__emails")
        .order_by("-created_at", "-id")
    )


def tiers() -> list[str]:
    return list(
        Organization.objects.exclude(tier="")
        .order_by("tier")
        .values_list("tier", flat=True)
        .distinct()
    )
