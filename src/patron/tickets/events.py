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
from patron.people import permissions
from patron.people.models import Contact
from patron.tickets.models import AuthorKind, EventKind, Ticket, TicketEvent


@dataclass(frozen=True)
class SystemActor:
    """An actor that is not a person: the system itself, a bot, or an automation rule, by name.

    Events made by one go through `record_system_event`.
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


# A rule's event may start another rule, which may start another; a chain this long is a loop.
MAX_RULE_CHAIN = 5


class RuleLoop(Exception):
    """A rule would act on an event its own action caused (or the chain of rules is too long)."""


def rule_chain(event: TicketEvent | None) -> list[int]:
    """The rules whose actions led to `event`, first to last (empty for a person's event)."""
    if event is None:
        return []
    return [int(pk) for pk in event.data.get("rule_chain", [])]


def may_trigger(rule_id: int, cause: TicketEvent | None) -> bool:
    """Whether rule `rule_id` may act on `cause`: not if it is already in the chain that led
    there, nor once the chain is MAX_RULE_CHAIN rules long."""
    chain = rule_chain(cause)
    return rule_id not in chain and len(chain) < MAX_RULE_CHAIN


def record_system_event(
    ticket: Ticket,
    kind: EventKind,
    *,
    by: SystemActor,
    at: datetime,
    cause: TicketEvent | None = None,
    **data: object,
) -> TicketEvent:
    """The one road for events no agent or contact made: the system (a bounce, an SLA warning),
    a bot (AI triage) or a rule's action, each named. Runs in the caller's transaction.

    `cause` is the event a rule acted on; the new event carries the chain of rules behind it, and
    a rule that is already in that chain is refused with RuleLoop, so it cannot re-trigger itself.
    """
    chain = rule_chain(cause)
    if by.kind == "rule":
        if by.rule_id is None:
            raise ValueError("a rule actor needs its rule_id")
        if not may_trigger(by.rule_id, cause):
            raise RuleLoop(
                f"{by.name} would act again on the result of its own action on ticket "
                f"#{ticket.number}; stopped after {', '.join(map(str, chain))}."
            )
        chain = [*chain, by.rule_id]
    if chain:
        data["rule_chain"] = chain
    return record(ticket, kind, actor=by, at=at, **data)


# Who may change a ticket's fields: an agent (permissions checked) or a rule (a trigger or a time
# rule, whose events carry the rule's name and the chain of rules behind them).
Changer = User | SystemActor


def check_may_change(actor: Changer, ticket: Ticket) -> None:
    """An agent's change is checked against their permissions; a rule's is its admin's."""
    if not isinstance(actor, SystemActor):
        permissions.check_change_ticket(actor, ticket)


def record_change(
    ticket: Ticket,
    kind: EventKind,
    *,
    actor: Actor | SystemActor,
    at: datetime,
    cause: TicketEvent | None = None,
    **data: object,
) -> TicketEvent:
    """Record a change a person or a rule made (a rule's through `record_system_event`)."""
    if isinstance(actor, SystemActor):
        return record_system_event(ticket, kind, by=actor, at=at, cause=cause, **data)
    return record(ticket, kind, actor=actor, at=at, **data)
