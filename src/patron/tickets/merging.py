"""Merging tickets into one, splitting a message off into a ticket of its own, moving a ticket
to another requester, and merging contacts (their addresses, details and tickets).

Each goes through the same checks as every other change (`services`): the tickets are locked,
merged or closed tickets refuse, and each ticket involved records what happened to it."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F

from patron.core.errors import IllegalTransition, InvalidInput
from patron.people import permissions
from patron.people import services as people
from patron.people.models import Contact, ContactEmail, PeopleEvent
from patron.tickets.events import record
from patron.tickets.models import EventKind, Message, Status, Ticket
from patron.tickets.services import check_open_for_changes, create_ticket, lock_ticket

SPLIT_OFF = EventKind.SPLIT_OFF


def merge_tickets(source: Ticket, target: Ticket, *, actor: User, now: datetime) -> Ticket:
    """Fold `source` into `target`: messages, events and followers move; `source` is closed
    and points to `target`, so a reply to it lands in the survivor."""
    permissions.check_change_ticket(actor, source)
    permissions.check_change_ticket(actor, target)
    if source.pk == target.pk:
        raise IllegalTransition("A ticket cannot be merged into itself.")
    with transaction.atomic():
        first, second = sorted((source, target), key=lambda t: t.pk)
        lock_ticket(first)
        lock_ticket(second)
        check_open_for_changes(source)
        check_open_for_changes(target)
        moved_messages = Message.objects.filter(ticket=source).update(ticket=target)
        source.events.update(ticket=target)
        target.followers.add(*source.followers.all())
        # Tickets merged into `source` earlier follow it, so a reply to them still lands in one hop.
        Ticket.objects.filter(merged_into=source).update(merged_into=target)
        Ticket.objects.filter(pk=target.pk).update(
            message_count=F("message_count") + moved_messages, updated_at=now
        )
        Ticket.objects.filter(pk=source.pk).update(
            merged_into=target, status=Status.CLOSED, closed_at=now, message_count=0,
            updated_at=now,
        )  # fmt: skip
        source.refresh_from_db()
        target.refresh_from_db()
        record(source, EventKind.MERGED, actor=actor, at=now, into=target.number,
               into_id=target.pk)  # fmt: skip
        record(target, EventKind.MERGED_IN, actor=actor, at=now, source=source.number,
               source_id=source.pk, messages=moved_messages)  # fmt: skip
    return target


def change_requester(ticket: Ticket, requester: Contact, *, actor: User, now: datetime) -> None:
    """Move a ticket to another contact (used when contacts are merged)."""
    permissions.check_manage_people(actor)
    with transaction.atomic():
        lock_ticket(ticket)
        old = ticket.requester_id
        if old == requester.pk:
            return
        ticket.requester = requester
        ticket.organization_id = requester.organization_id
        ticket.updated_at = now
        ticket.save(update_fields=["requester", "organization", "updated_at"])
        record(ticket, EventKind.REQUESTER_CHANGED, actor=actor, at=now, to=requester.pk,
               **{"from": old})  # fmt: skip


def split_message(ticket: Ticket, message: Message, *, actor: User, now: datetime) -> Ticket:
    """Move one customer message into a new ticket for the same requester; both record it."""
    permissions.check_change_ticket(actor, ticket)
    if message.ticket_id != ticket.pk:
        raise InvalidInput(f"That message is not on ticket #{ticket.number}.")
    if not message.public or message.author_contact_id is None:
        raise InvalidInput("Only a customer's message can be split into a new ticket.")
    with transaction.atomic():
        lock_ticket(ticket)
        check_open_for_changes(ticket)
        if not Message.objects.filter(ticket=ticket).exclude(pk=message.pk).exists():
            raise IllegalTransition(f"That is the only message on ticket #{ticket.number}.")
        new = create_ticket(
            requester=ticket.requester,
            subject=ticket.subject,
            body=message.body_text,
            now=now,
            actor=actor,
            channel=ticket.channel,
            priority=ticket.priority,
            type=ticket.type,
            team=ticket.team,
            split_from=message,
        )
        Ticket.objects.filter(pk=ticket.pk).update(
            message_count=F("message_count") - 1, updated_at=now
        )
        record(ticket, SPLIT_OFF, actor=actor, at=now, into=new.number, into_id=new.pk,
               message_id=message.pk)  # fmt: skip
    return new


def merge_contacts(source: Contact, target: Contact, *, actor: User, now: datetime) -> Contact:
    """Fold `source` into `target`: addresses and tickets move; `source` points to `target`."""
    permissions.check_manage_people(actor)
    if source.pk == target.pk:
        raise InvalidInput("A contact cannot be merged into itself.")
    if source.merged_into_id is not None:
        raise InvalidInput(f"{source} was already merged into another contact.")
    if target.merged_into_id is not None:
        # Merging into a merged contact would hide tickets, or loop find_contact forever.
        raise InvalidInput(f"{target} was merged into {target.merged_into}; merge into that one.")
    with transaction.atomic():
        ContactEmail.objects.filter(contact=source).update(contact=target, primary=False)
        ticket_ids = []
        for ticket in source.tickets.select_for_update().order_by("id"):
            change_requester(ticket, target, actor=actor, now=now)
            ticket_ids.append(ticket.pk)
        for field in ("phone", "language", "time_zone"):
            if not getattr(target, field) and getattr(source, field):
                setattr(target, field, getattr(source, field))
        if target.organization_id is None and source.organization_id is not None:
            target.organization_id = source.organization_id
        target.custom_fields = {**source.custom_fields, **target.custom_fields}
        target.save()
        source.merged_into = target
        source.save(update_fields=["merged_into"])
        moved = {"source": source.pk, "target": target.pk, "tickets": len(ticket_ids)}
        people.record_event(PeopleEvent.Kind.MERGED, moved, contact=source, actor=actor, at=now)
        people.record_event(PeopleEvent.Kind.MERGED_IN, moved, contact=target, actor=actor, at=now)
    return target
