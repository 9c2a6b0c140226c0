"""Reads that pages and the API share."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.db.models import Prefetch, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from patron.core import permissions
from patron.tickets.models import Message, Ticket, TicketEvent


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
