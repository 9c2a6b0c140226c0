"""Reads that pages and the API share."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from patron import conditions
from patron.people import permissions
from patron.people.models import Contact, CustomFieldDefinition, Organization, Team
from patron.people.services import check_rule
from patron.tickets import sentences
from patron.tickets.models import Attachment, EventKind, Message, Status, Ticket, TicketEvent

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

MENTION = re.compile(r"(?<![\w.@])@([\w.+-]+)")
OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
RECENT_TICKETS = 10


def unmerged(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Leave out tickets merged into another.

    On SQLite the test is written so that no index can serve it: SQLite keeps no statistics,
    so for `merged_into IS NULL` it would take the `merged_into` index, which every ticket
    matches, and walk all of them, instead of an index on status or update time (at 100,000
    tickets: 60 to 100 ms per list). PostgreSQL knows better from its statistics."""
    if connection.vendor == "sqlite":
        return tickets.alias(merged_into_or_0=Coalesce("merged_into", Value(0))).filter(
            merged_into_or_0=0
        )
    return tickets.filter(merged_into__isnull=True)


def ticket_list(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Ticket]:
    tickets = (
        unmerged(Ticket.objects.all())
        .select_related("requester__organization", "organization", "assignee", "team")
        .prefetch_related("requester__emails")  # a nameless requester shows their address
    )
    return permissions.visible_tickets(user, tickets).order_by("-updated_at", "-id")


def ticket_for_page(number: int) -> Ticket:
    """The ticket with its conversation and timeline, in a fixed number of queries."""
    # A nameless contact is shown by their address: prefetch it rather than ask once per row.
    messages = Message.objects.select_related("author_agent", "author_contact").prefetch_related(
        "attachments", "author_contact__emails"
    )
    events = TicketEvent.objects.select_related("actor_agent", "actor_contact").prefetch_related(
        "actor_contact__emails"
    )
    ticket = (
        Ticket.objects.select_related(
            "requester__organization", "organization", "assignee", "team", "merged_into"
        )
        .prefetch_related(
            Prefetch("messages", queryset=messages),
            Prefetch("events", queryset=events),
            "requester__emails",
            "tags",
            "followers",
        )
        .filter(number=number)
        .first()
    )
    if ticket is None:
        raise Http404(f"There is no ticket #{number}.")
    return ticket


def is_opening_message(event: TicketEvent) -> bool:
    """Whether a `message_added` event is of the ticket's first message, written with the
    ticket: part of its creation, not a message added to it."""
    if event.kind != EventKind.MESSAGE_ADDED:
        return False
    messages = Message.objects.filter(ticket_id=event.ticket_id).order_by("id")
    first: int | None = messages.values_list("pk", flat=True).first()
    return first is not None and event.data.get("message_id") == first


def ticket_by_number(number: int) -> Ticket | None:
    return Ticket.objects.filter(number=number).first()


def message_on(ticket: Ticket, message_id: int) -> Message | None:
    return Message.objects.filter(pk=message_id, ticket=ticket).first()


def attachment_on(number: int, attachment_id: int) -> Attachment | None:
    """The attachment if it belongs to a message of ticket `number`, with that ticket."""
    return (
        Attachment.objects.select_related("message__ticket")
        .filter(pk=attachment_id, message__ticket__number=number)
        .first()
    )


# The ticket page


def timeline_names(events: Iterable[TicketEvent]) -> sentences.Names:
    """The names the events' sentences need (agents, teams, custom fields), in three queries
    at most."""
    user_ids: set[int] = set()
    team_ids: set[int] = set()
    for event in events:
        for key in ("from", "to", "user"):
            value = event.data.get(key)
            if isinstance(value, int):
                if event.data.get("field") == "team":
                    team_ids.add(value)
                elif event.kind in (EventKind.ASSIGNED, EventKind.FOLLOWED, EventKind.UNFOLLOWED):
                    user_ids.add(value)
    user_model: type[User] = get_user_model()
    users = (
        {
            u.pk: sentences.person(u, missing="nobody")
            for u in user_model.objects.filter(pk__in=user_ids)
        }
        if user_ids
        else {}
    )
    teams = dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name")) if team_ids else {}
    labels = dict(
        CustomFieldDefinition.objects.filter(applies_to="ticket").values_list("key", "label")
    )
    return sentences.Names(users=users, teams=teams, labels=labels)


def timeline(events: Iterable[TicketEvent]) -> list[tuple[TicketEvent, str]]:
    """Each event with its sentence, in the given order."""
    events = list(events)
    names = timeline_names(events)
    return [(event, sentences.describe(event, names=names)) for event in events]


def neighbours(
    user: AbstractBaseUser | AnonymousUser, ticket: Ticket
) -> tuple[int | None, int | None]:
    """(previous, next) ticket numbers in the list's order: newest update first."""
    tickets = ticket_list(user)
    at, pk = ticket.updated_at, ticket.pk
    # The plain bound lets the (updated_at, id) index serve the either-or condition: without it
    # SQLite walks every ticket (30-60 ms each at 100,000 tickets).
    newer = tickets.filter(Q(updated_at__gt=at) | Q(updated_at=at, id__gt=pk), updated_at__gte=at)
    older = tickets.filter(Q(updated_at__lt=at) | Q(updated_at=at, id__lt=pk), updated_at__lte=at)
    previous = newer.order_by("updated_at", "id").values_list("number", flat=True).first()
    following = older.order_by("-updated_at", "-id").values_list("number", flat=True).first()
    return previous, following


def custom_field_inputs(ticket: Ticket) -> list[dict[str, Any]]:
    """Each custom ticket field with the ticket's value, in the admin's order."""
    return [
        {"definition": d, "value": ticket.custom_fields.get(d.key)}
        for d in CustomFieldDefinition.objects.filter(applies_to="ticket")
    ]


class OpenTickets(TypedDict):
    open_tickets: int


def organization_with_open_tickets(
    organization_id: int,
) -> WithAnnotations[Organization, OpenTickets]:
    """The organization with its account manager and `open_tickets`, its unmerged open count."""
    return (
        Organization.objects.select_related("account_manager")
        .annotate(
            open_tickets=Count(
                "tickets",
                filter=Q(tickets__status__in=OPEN_STATUSES, tickets__merged_into__isnull=True),
            )
        )
        .get(pk=organization_id)
    )


def _others_visible(user: AbstractBaseUser | AnonymousUser, ticket: Ticket) -> QuerySet[Ticket]:
    visible = permissions.visible_tickets(user, Ticket.objects.filter(merged_into__isnull=True))
    return visible.exclude(pk=ticket.pk).order_by("-updated_at", "-id")


def requester_tickets(
    user: AbstractBaseUser | AnonymousUser, ticket: Ticket, *, limit: int = RECENT_TICKETS
) -> list[Ticket]:
    """The requester's other tickets the user may see, newest update first."""
    return list(_others_visible(user, ticket).filter(requester=ticket.requester)[:limit])


def organization_tickets(
    user: AbstractBaseUser | AnonymousUser,
    ticket: Ticket,
    organization: Organization,
    *,
    limit: int = RECENT_TICKETS,
) -> list[Ticket]:
    """The organization's other tickets the user may see, newest update first."""
    return list(_others_visible(user, ticket).filter(organization=organization)[:limit])


# The composer


def mentioned_agents(body: str) -> list[User]:
    """The active agents named as @username in a note; unknown names are left as text."""
    names = {name.rstrip(".").lower() for name in MENTION.findall(body)}
    if not names:
        return []
    user_model: type[User] = get_user_model()
    named = Q()
    for name in names:
        named |= Q(username__iexact=name)
    return list(
        user_model.objects.filter(named, agent__isnull=False, is_active=True).order_by("pk")
    )


def public_message_since(ticket: Ticket, last_seen_message_id: int) -> bool:
    """Whether a public message newer than `last_seen_message_id` is on the ticket."""
    return Message.objects.filter(ticket=ticket, public=True, pk__gt=last_seen_message_id).exists()


def segment_counts(rule: Mapping[str, Any]) -> dict[str, int]:
    """How many contacts, organizations and tickets a segment's rule selects now; InvalidInput
    if any of them cannot read it."""
    check_rule(rule)
    return {
        "contacts": Contact.objects.filter(merged_into__isnull=True)
        .filter(conditions.to_q("contact", rule))
        .distinct()
        .count(),
        "organizations": Organization.objects.filter(conditions.to_q("organization", rule))
        .distinct()
        .count(),
        "tickets": Ticket.objects.filter(conditions.to_q("ticket", rule)).distinct().count(),
    }
