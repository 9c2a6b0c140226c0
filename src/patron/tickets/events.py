"""Recording a ticket's events: who acted (a person, or a named system, bot or rule actor) and
the TicketEvent itself, written with its receipts in the change's own transaction. The spine
that delivers them is `patron.core.events`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.contrib.auth.models import User
from django.db import transaction

from patron.core import wake
from patron.core.events import open_receipts
from patron.people.models import Contact
from patron.tickets.models import AuthorKind, EventKind, Ticket, TicketEvent


@dataclass(frozen=True)
class SystemActor:
    """An actor that is not a person: the system itself, a bot, or an automation rule, by name.

    Events made by one go through `patron.tickets.services.record_system_event`.
    """

    kind: Literal["system", "bot", "rule"]
    name: str
    rule_id: int | None = None  # which rule, for `kind == "rule"`

    @classmethod
    def system(cls, name: str) -> SystemActor:
        return cls("system", name)

    @classmethod
    def bot(cls, name: str) -> SystemActor:
        return cls("bot", name)

    @classmethod
    def rule(cls, rule_id: int, name: str) -> SystemActor:
        return cls("rule", name, rule_id)


Actor = User | Contact | None  # a person, or None for the system when it needs no name


def author_kind(actor: Actor | SystemActor, *, bot: bool = False) -> str:
    """Who acted: a contact, an agent, a bot (acting as an agent user or alone), a rule, or the
    system."""
    if isinstance(actor, SystemActor):
        return actor.kind
    if isinstance(actor, Contact):
        return AuthorKind.CONTACT
    if bot:
        return AuthorKind.BOT
    return AuthorKind.AGENT if actor is not None else AuthorKind.SYSTEM


def record(
    ticket: Ticket, kind: str, *, actor: Actor | SystemActor, at: datetime, **data: object
) -> TicketEvent:
    """Write one event and a receipt per interested consumer; enqueue them after commit.

    Must be called inside the transaction that makes the change it describes.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record() must run inside the transaction of the change it records")
    if kind not in EventKind.values:
        raise ValueError(f"{kind!r} is not an EventKind; add it there before recording it")
    event = TicketEvent.objects.create(
        ticket=ticket,
        kind=kind,
        at=at,
        data=data,
        actor_kind=author_kind(actor),
        actor_name=actor.name[:120] if isinstance(actor, SystemActor) else "",
        actor_agent=actor if isinstance(actor, User) else None,
        actor_contact=actor if isinstance(actor, Contact) else None,
    )
    open_receipts(event)
    wake.announce()
    return event
