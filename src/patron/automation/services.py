"""Triggers: saving them (admins), previewing which tickets they would match now, and running
them as the `triggers` consumer of ticket events.

A trigger's actions go through `patron.tickets.services` with the trigger as a named rule actor,
so every change it makes is a TicketEvent saying which trigger made it. An event a trigger's
action caused carries the chain of rules behind it: a trigger never acts on the result of its
own action (nor past `MAX_RULE_CHAIN` rules), and no ticket takes more than
`MAX_FIRINGS_PER_MINUTE` firings in a minute; both are logged as firings that did nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from patron import conditions
from patron.automation import actions
from patron.automation.models import Firing, Moment, Trigger
from patron.core.errors import IllegalTransition, InvalidInput
from patron.people import permissions
from patron.tickets.events import MAX_RULE_CHAIN, SystemActor, rule_chain
from patron.tickets.models import EventKind, Ticket, TicketEvent
from patron.tickets.queries import is_opening_message

log = logging.getLogger(__name__)

MAX_FIRINGS_PER_MINUTE = 30  # per ticket, over all triggers
PREVIEW_LIMIT = 20

# Which events each moment is.
MOMENT_KINDS: dict[str, frozenset[str]] = {
    Moment.CREATED: frozenset({EventKind.CREATED}),
    Moment.UPDATED: frozenset(
        {
            EventKind.FIELD_CHANGED,
            EventKind.ASSIGNED,
            EventKind.MESSAGE_ADDED,
            EventKind.REQUESTER_CHANGED,
        }
    ),
    Moment.MESSAGE_ADDED: frozenset({EventKind.MESSAGE_ADDED}),
    Moment.SLA_WARNING: frozenset({EventKind.SLA_WARNING}),
    Moment.SLA_BREACHED: frozenset({EventKind.SLA_BREACHED}),
}
EVENT_KINDS: frozenset[str] = frozenset().union(*MOMENT_KINDS.values())


def moments_of(kind: str) -> set[str]:
    return {moment for moment, kinds in MOMENT_KINDS.items() if kind in kinds}


def clean_moments(moments: object) -> list[str]:
    chosen = [moments] if isinstance(moments, str) else moments
    if not isinstance(chosen, list | tuple) or not chosen:
        raise InvalidInput("When: pick at least one moment.")
    unknown = sorted(str(m) for m in chosen if m not in Moment.values)
    if unknown:
        raise InvalidInput(f"When: {', '.join(unknown)} is not one of {', '.join(Moment.values)}.")
    return [m for m in Moment.values if m in chosen]


def save_trigger(
    row: Trigger | None, values: Mapping[str, Any], *, actor: User, now: datetime
) -> Trigger:
    """Create (row=None) or change a trigger: name, description, moments, rule, actions,
    position, active. Everything is validated before anything is saved."""
    permissions.check_administer(actor)
    return _save(row, values, now=now)


def _save(row: Trigger | None, values: Mapping[str, Any], *, now: datetime) -> Trigger:
    known = {"name", "description", "moments", "rule", "actions", "position", "active"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidInput(f"A trigger has no setting {', '.join(unknown)}.")
    trigger = row if row is not None else Trigger(created_at=now)
    if "name" in values:
        trigger.name = str(values["name"]).strip()[:120]
    if not trigger.name:
        raise InvalidInput("Name: give the trigger a name.")
    if "description" in values:
        trigger.description = str(values["description"]).strip()
    if "moments" in values or row is None:
        trigger.moments = clean_moments(values.get("moments"))
    if "rule" in values:
        trigger.rule = conditions.validate("ticket", values["rule"])
    if "actions" in values or row is None:
        trigger.actions = actions.validate(values.get("actions"))
    if "position" in values:
        trigger.position = max(0, int(values["position"]))
    elif row is None:
        last = Trigger.objects.order_by("-position").values_list("position", flat=True).first()
        trigger.position = (last or 0) + 1
    if "active" in values:
        trigger.active = bool(values["active"])
    trigger.updated_at = now
    if Trigger.objects.filter(name__iexact=trigger.name).exclude(pk=trigger.pk).exists():
        raise InvalidInput(f"Name: there is already a trigger {trigger.name}.")
    try:
        with transaction.atomic():
            trigger.save()
    except IntegrityError:
        raise InvalidInput(f"Name: there is already a trigger {trigger.name}.") from None
    return trigger


def install_presets(presets: list[dict[str, Any]], *, now: datetime) -> list[Trigger]:
    """Save ready-made triggers (`patron.automation.presets`), validated like an admin's, for
    the demo and a new desk's set-up; one already there by name is left as it is."""
    existing = set(Trigger.objects.values_list("name", flat=True))
    return [_save(None, preset, now=now) for preset in presets if preset["name"] not in existing]


def delete_trigger(trigger: Trigger, *, actor: User) -> None:
    permissions.check_administer(actor)
    trigger.delete()


def move_trigger(trigger: Trigger, step: int, *, actor: User) -> None:
    """Move a trigger one place earlier (step -1) or later (+1) in the order triggers run."""
    permissions.check_administer(actor)
    with transaction.atomic():
        order = list(Trigger.objects.select_for_update().order_by("position", "id"))
        at = next(i for i, t in enumerate(order) if t.pk == trigger.pk)
        to = min(max(at + step, 0), len(order) - 1)
        order.insert(to, order.pop(at))
        for position, row in enumerate(order, start=1):
            if row.position != position:
                row.position = position
                row.save(update_fields=["position"])


def describe(trigger: Trigger) -> str:
    """ "When a ticket is created, if Relationship is Client: Assign the account manager"."""
    moments = " or ".join(Moment(m).label.lower() for m in trigger.moments)
    rule = conditions.describe("ticket", trigger.rule) if trigger.rule else "any ticket"
    done = "; ".join(actions.describe(a) for a in trigger.actions)
    return f"When {moments}, if {rule}: {done}"


def preview(rule: object, *, limit: int = PREVIEW_LIMIT) -> tuple[int, list[Ticket]]:
    """Which tickets the rule would match now: how many, and the most recently updated few."""
    matching: QuerySet[Ticket] = Ticket.objects.filter(
        conditions.to_q("ticket", conditions.validate("ticket", rule))
    )
    return matching.count(), list(matching.order_by("-updated_at", "-id")[:limit])


# --- the consumer ---------------------------------------------------------------------------


def wanted(event: TicketEvent) -> bool:
    """Whether any active trigger is asked at this event's moment (one query on a tiny table)."""
    moments = moments_of(event.kind)
    chosen = Trigger.objects.filter(active=True).values_list("moments", flat=True)
    return any(moments & set(m) for m in chosen)


def _capped(ticket_id: int, now: datetime) -> bool:
    recent = Firing.objects.filter(
        ticket_id=ticket_id, at__gt=now - timedelta(minutes=1), outcome=Firing.Outcome.ACTED
    )
    return recent.count() >= MAX_FIRINGS_PER_MINUTE


def run_triggers(event: TicketEvent) -> None:
    """The `triggers` consumer: ask every active trigger for this event's moments, in order;
    each that matches the ticket (as the triggers before it left it) does its actions."""
    moments = set() if is_opening_message(event) else moments_of(event.kind)
    chain = rule_chain(event)
    done = set(Firing.objects.filter(event=event).values_list("trigger_id", flat=True))
    ticket: Ticket | None = None
    for trigger, asked_at, matches in _active_triggers():
        if not moments & asked_at or trigger.pk in done or trigger.pk in chain:
            continue
        if ticket is None:  # (again) after a trigger acted: the next sees its changes
            ticket = _load(event.ticket_id)
        if matches(ticket):
            _fire(trigger, ticket, event, chain=chain)
            ticket = None


Compiled = tuple[Trigger, frozenset[str], Callable[[Any], bool]]
# The active triggers in order with their rules bound, kept per process while what they are
# (id, name, position, and the text of their moments, rule and actions) stays the same: read
# as text, which is far cheaper than 200 rows of decoded JSON.
_cache: tuple[tuple[Any, ...], list[Compiled]] = ((), [])


def _active_triggers() -> list[Compiled]:
    global _cache
    active = Trigger.objects.filter(active=True)
    texts = active.annotate(
        moments_text=Cast("moments", TextField()),
        rule_text=Cast("rule", TextField()),
        actions_text=Cast("actions", TextField()),
    )
    signature = tuple(
        texts.values_list("pk", "name", "position", "moments_text", "rule_text", "actions_text")
    )
    if _cache[0] != signature or not signature:
        rows = list(active)
        _cache = (
            signature,
            [(t, frozenset(t.moments), conditions.matcher("ticket", t.rule)) for t in rows],
        )
    return _cache[1]


def _load(ticket_id: int) -> Ticket:
    related = Ticket.objects.select_related("requester__organization", "organization")
    return related.prefetch_related("tags").get(pk=ticket_id)


def _fire(trigger: Trigger, ticket: Ticket, event: TicketEvent, *, chain: list[int]) -> None:
    now = event.at
    firing = Firing(trigger=trigger, ticket=ticket, event=event, at=now)
    if len(chain) >= MAX_RULE_CHAIN:
        firing.outcome, firing.detail = Firing.Outcome.LOOP, " → ".join(map(str, chain))
    elif _capped(ticket.pk, now):
        firing.outcome = Firing.Outcome.CAPPED
        firing.detail = f"more than {MAX_FIRINGS_PER_MINUTE} firings on this ticket in a minute"
    else:
        firing.outcome, firing.detail = _act(trigger, ticket, event, now)
    if firing.outcome != Firing.Outcome.ACTED:
        log.warning("trigger %s on ticket #%s: %s", trigger, ticket.number, firing.detail)
    firing.save()


def _act(trigger: Trigger, ticket: Ticket, event: TicketEvent, now: datetime) -> tuple[str, str]:
    by = SystemActor.rule(trigger.pk, trigger.actor_name)
    done, failed = [], []
    for action in trigger.actions:
        try:
            with transaction.atomic():
                done.append(actions.apply(action, ticket, by=by, cause=event, now=now))
        except (InvalidInput, IllegalTransition) as error:
            failed.append(f"{actions.describe(action)}: {error}")
        ticket.refresh_from_db()
    if failed:
        return Firing.Outcome.FAILED, "; ".join([*done, *(f"failed: {f}" for f in failed)])
    return Firing.Outcome.ACTED, "; ".join(done)
