"""Every event consumer, in one list: what it is called, which events it reads, what it runs;
and every outbox, the event model whose receipts it keeps.

A consumer takes one event of its model (a TicketEvent unless it says PeopleEvent) and must be
idempotent in its own right too; its writes are committed together with its delivery receipt
(see `patron.core.events.deliver`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from patron.automation import services as automation_services
from patron.core.events import PEOPLE, TICKETS
from patron.core.models import EventDelivery
from patron.mail import outbound as mail_outbound
from patron.notifications import consumers as notification_consumers
from patron.people.models import PeopleEvent, PeopleEventDelivery
from patron.search import services as search_services
from patron.sla import services as sla_services
from patron.sla import tasks as sla_tasks
from patron.tickets.models import EventKind, TicketEvent
from patron.webhooks import services as webhook_services

# Outbox name -> (event model, its receipt model); the spine claims, delivers and re-drives each.
OUTBOXES: dict[str, tuple[type[Any], type[Any]]] = {
    TICKETS: (TicketEvent, EventDelivery),
    PEOPLE: (PeopleEvent, PeopleEventDelivery),
}


@dataclass(frozen=True)
class Consumer:
    name: str
    kinds: frozenset[str]
    handle: Callable[[Any], None]  # takes one event of `model`
    # Optional: the same effect for many events at once (`events.deliver_batch`).
    handle_batch: Callable[[list[Any]], None] | None = None
    # Which event model the kinds are of: kinds of the two models may share names ("merged").
    model: type[TicketEvent] | type[PeopleEvent] = TicketEvent
    # Optional: whether this very event is wanted at all, asked when its receipts are written
    # (webhooks: only while an active webhook asks for the kind), so an event nobody reads
    # gets no receipt and no task.
    wants: Callable[[Any], bool] | None = None

    def __str__(self) -> str:
        return self.name


CONSUMERS: tuple[Consumer, ...] = (
    Consumer(
        name="notify_followers",
        kinds=frozenset({EventKind.MESSAGE_ADDED, EventKind.ASSIGNED, EventKind.FIELD_CHANGED}),
        handle=notification_consumers.notify_followers,
    ),
    Consumer(
        name="search_index",
        kinds=frozenset(
            {
                EventKind.CREATED,
                EventKind.MESSAGE_ADDED,
                EventKind.FIELD_CHANGED,
                EventKind.MERGED,
                EventKind.MERGED_IN,
                EventKind.REQUESTER_CHANGED,
                EventKind.SPLIT_OFF,
            }
        ),
        handle=search_services.index_after_event,
        handle_batch=search_services.index_after_events,
    ),
    Consumer(
        name="search_index_people",
        kinds=frozenset(PeopleEvent.Kind.values),
        handle=search_services.index_after_people_event,
        handle_batch=search_services.index_after_people_events,
        model=PeopleEvent,
    ),
    Consumer(
        name="notify_account_manager",
        kinds=frozenset({EventKind.CREATED, EventKind.MESSAGE_ADDED}),
        handle=notification_consumers.notify_account_manager,
    ),
    Consumer(
        name="send_reply_mail",
        kinds=frozenset({EventKind.MESSAGE_ADDED}),
        handle=mail_outbound.send_reply_mail,
    ),
    Consumer(
        name="sla_clocks",
        kinds=sla_services.CLOCK_EVENTS,
        handle=sla_tasks.refresh_after_event,
        handle_batch=sla_tasks.refresh_after_events,
    ),
    Consumer(
        name="notify_sla",
        kinds=frozenset({EventKind.SLA_WARNING, EventKind.SLA_BREACHED}),
        handle=notification_consumers.notify_sla,
    ),
    # Triggers: before the webhooks, so a webhook sees the event; the triggers' own changes are
    # events of their own, each with its receipts.
    Consumer(
        name="triggers",
        kinds=automation_services.EVENT_KINDS,
        handle=automation_services.run_triggers,
        wants=automation_services.wanted,
    ),
    # Every ticket event, for the webhooks that ask for its kind (the consumer only writes the
    # delivery rows; tasks send them).
    Consumer(
        name="webhooks",
        kinds=frozenset(EventKind.values),
        handle=webhook_services.queue_deliveries,
        wants=webhook_services.wanted,
    ),
)

_BY_NAME = {consumer.name: consumer for consumer in CONSUMERS}


def consumers_for(
    kind: str,
    *,
    model: type[TicketEvent] | type[PeopleEvent] = TicketEvent,
    event: Any = None,
) -> list[str]:
    """The consumers of this kind of event of this model (and, given the event, that want it)."""
    return [
        c.name
        for c in CONSUMERS
        if c.model is model
        and kind in c.kinds
        and (event is None or c.wants is None or c.wants(event))
    ]


def consumer_for(name: str) -> Consumer | None:
    return _BY_NAME.get(name)


def consumer_named(name: str) -> Callable[[Any], None]:
    consumer = consumer_for(name)
    if consumer is None:
        raise LookupError(f"No event consumer is called {name!r}")
    return consumer.handle
