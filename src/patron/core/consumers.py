"""Every event consumer, in one list: what it is called, which events it reads, what it runs.

A consumer takes one TicketEvent and must be idempotent in its own right too; its writes are
committed together with its delivery receipt (see `patron.core.events.deliver`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from patron.core import notifications
from patron.mail import outbound as mail_outbound
from patron.search import services as search_services
from patron.tickets import consumers as ticket_consumers
from patron.tickets.models import EventKind, TicketEvent


@dataclass(frozen=True)
class Consumer:
    name: str
    kinds: frozenset[str]
    handle: Callable[[TicketEvent], None]
    # Optional: the same effect for many events at once (`events.deliver_batch`).
    handle_batch: Callable[[list[TicketEvent]], None] | None = None

    def __str__(self) -> str:
        return self.name


CONSUMERS: tuple[Consumer, ...] = (
    Consumer(
        name="notify_followers",
        kinds=frozenset({EventKind.MESSAGE_ADDED, EventKind.ASSIGNED, EventKind.FIELD_CHANGED}),
        handle=ticket_consumers.notify_followers,
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
        name="notify_account_manager",
        kinds=frozenset({EventKind.CREATED, EventKind.MESSAGE_ADDED}),
        handle=notifications.notify_account_manager,
    ),
    Consumer(
        name="send_reply_mail",
        kinds=frozenset({EventKind.MESSAGE_ADDED}),
        handle=mail_outbound.send_reply_mail,
    ),
)

_BY_NAME = {consumer.name: consumer for consumer in CONSUMERS}


def consumers_for(kind: str) -> list[str]:
    return [consumer.name for consumer in CONSUMERS if kind in consumer.kinds]


def consumer_for(name: str) -> Consumer | None:
    return _BY_NAME.get(name)


def consumer_named(name: str) -> Callable[[TicketEvent], None]:
    consumer = consumer_for(name)
    if consumer is None:
        raise LookupError(f"No event consumer is called {name!r}")
    return consumer.handle
