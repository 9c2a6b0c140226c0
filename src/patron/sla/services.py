"""Service levels on real tickets: which policy a ticket is under, its history as the engine's
timeline, and its clocks evaluated and stored, with an event for every pause, resume, warning
and breach.

Clocks are never advanced by hand: `refresh` replays the ticket's own events through the
engine (`patron.sla.engine.evaluate`) and stores what it says, so a live ticket and a replay of
its history agree by construction. The `sla_clocks` consumer calls it after every ticket event
that can move a clock, and the periodic tick (`patron.sla.tasks.tick`) after a warning or due
instant has passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.db.models import Q

from patron.conditions import engine as conditions
from patron.core.errors import InvalidInput
from patron.sla import clock_rows
from patron.sla import replay as replay_format
from patron.sla.calendar import Calendar, FieldError, named_holidays_from_ical
from patron.sla.engine import Clock, Event, Policy, evaluate
from patron.sla.models import (
    RUNNING_STATES,
    BusinessCalendar,
    ClockState,
    Holiday,
    SlaClock,
    SlaPolicy,
)
from patron.tickets.events import SystemActor, record_system_event
from patron.tickets.models import AuthorKind, EventKind, Status, Ticket, TicketEvent

SLA_ACTOR = SystemActor.system("SLA")

# The ticket events that can move a clock; the consumer reads these.
CLOCK_EVENTS = frozenset(
    {
        EventKind.CREATED,
        EventKind.MESSAGE_ADDED,
        EventKind.FIELD_CHANGED,
        EventKind.ASSIGNED,
        EventKind.REQUESTER_CHANGED,
        EventKind.MERGED,
    }
)


# --- calendars and policies, from their rows -----------------------------------------------


def calendar_of(row: BusinessCalendar | None) -> Calendar:
    """The engine's calendar for a stored one; none means 24/7."""
    if row is None or row.always_open:
        return Calendar.always(row.name if row is not None else "24/7")
    document = {
        "name": row.name,
        "timezone": row.timezone,
        "hours": row.hours,
        "holidays": [day.isoformat() for day in row.holidays.values_list("date", flat=True)],
    }
    try:
        return Calendar.from_json(document)
    except FieldError as error:
        raise InvalidInput(f"Calendar {row.name}: {error}") from None


def policy_of(row: SlaPolicy) -> Policy:
    """The engine's policy for a stored one (its calendar read once)."""
    metrics, pause_rules = _checked_metrics(row.metrics, row.pause_rules)
    return Policy(
        metrics=metrics, pause_rules=pause_rules, calendar=calendar_of(row.calendar), name=row.name
    )


def _checked_metrics(
    metrics: object, pause_rules: object
) -> tuple[dict[str, Any], dict[str, frozenset[str]]]:
    try:
        return (
            replay_format.metrics_from_json(metrics),
            replay_format.pause_rules_from_json(pause_rules or {}),
        )
    except FieldError as error:
        raise InvalidInput(str(error)) from None


def clean_calendar(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check a calendar's name, time zone and hours; InvalidInput says what is wrong."""
    name = " ".join(str(values.get("name", "")).split())
    if not name:
        raise InvalidInput("A calendar needs a name.")
    zone = str(values.get("timezone") or "UTC").strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"{zone!r} is not a time zone (use an IANA name such as Asia/Jakarta)."
        ) from None
    always_open = bool(values.get("always_open"))
    hours = values.get("hours") or {}
    if not always_open:
        try:
            Calendar.from_json({"timezone": zone, "hours": hours})
        except FieldError as error:
            raise InvalidInput(str(error)) from None
    return {"name": name, "timezone": zone, "always_open": always_open, "hours": hours}


def save_calendar(
    row: BusinessCalendar | None, values: Mapping[str, Any], *, holidays: Iterable[Any] = ()
) -> BusinessCalendar:
    """Create or change a calendar; `holidays` (dates) are added to those it has."""
    cleaned = clean_calendar(values)
    clash = BusinessCalendar.objects.filter(name__iexact=cleaned["name"])
    if row is not None:
        clash = clash.exclude(pk=row.pk)
    if clash.exists():
        raise InvalidInput(f"There is already a calendar called {cleaned['name']}.")
    with transaction.atomic():
        row = row or BusinessCalendar()
        for key, value in cleaned.items():
            setattr(row, key, value)
        row.save()
        add_holidays(row, holidays)
    return row


def add_holidays(
    row: BusinessCalendar,
    days: Iterable[Any],
    *,
    name: str = "",
    names: Mapping[date, str] | None = None,
) -> int:
    """Add dates to a calendar's holidays (those it has stay), each named by `names` or else
    `name`; returns how many were new."""
    have = set(row.holidays.values_list("date", flat=True))
    new = sorted({day for day in days if day not in have})
    Holiday.objects.bulk_create(
        [Holiday(calendar=row, date=day, name=(names or {}).get(day) or name) for day in new]
    )
    return len(new)


def import_holidays(row: BusinessCalendar, ical_text: str) -> int:
    """Add the dates an iCalendar file's events cover; InvalidInput for a file that is not one."""
    try:
        days = named_holidays_from_ical(ical_text)
    except ValueError as error:
        raise InvalidInput(f"That file could not be read as iCalendar: {error}") from None
    return add_holidays(row, days, name="Imported", names=days)


def clean_policy(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check a policy's name, rule, targets and pause rules; InvalidInput says what is wrong."""
    name = " ".join(str(values.get("name", "")).split())
    if not name:
        raise InvalidInput("A policy needs a name.")
    rule = conditions.validate("ticket", values.get("rule") or {})
    metrics = values.get("metrics") or {}
    pause_rules = values.get("pause_rules") or {}
    checked, _ = _checked_metrics(metrics, pause_rules)
    if not any(metric.targets for metric in checked.values()):
        raise InvalidInput("A policy needs at least one target (a metric with minutes).")
    calendar = values.get("calendar")
    business = [m for m, spec in checked.items() if spec.measure == "business"]
    if business and calendar is None:
        raise InvalidInput(
            f"{', '.join(business)} count business time: choose the calendar whose hours count."
        )
    return {
        "name": name,
        "rule": rule,
        "metrics": metrics,
        "pause_rules": pause_rules,
        "calendar": calendar,
        "active": bool(values.get("active", True)),
        "description": str(values.get("description", "")),
    }


def save_policy(row: SlaPolicy | None, values: Mapping[str, Any], *, now: datetime) -> SlaPolicy:
    """Create or change a policy; a new one goes last. Tickets take a changed policy at their
    next event or tick (clocks already finished keep what they had)."""
    cleaned = clean_policy(values)
    clash = SlaPolicy.objects.filter(name__iexact=cleaned["name"])
    if row is not None:
        clash = clash.exclude(pk=row.pk)
    if clash.exists():
        raise InvalidInput(f"There is already a policy called {cleaned['name']}.")
    if row is None:
        last = SlaPolicy.objects.order_by("-position").values_list("position", flat=True).first()
        row = SlaPolicy(position=(last or 0) + 1, created_at=now)
    for key, value in cleaned.items():
        setattr(row, key, value)
    row.updated_at = now
    row.save()
    return row


def reorder_policies(ids: Sequence[int]) -> None:
    """Put the policies in this order (first match wins); ids not named keep their place after."""
    rows = {row.pk: row for row in SlaPolicy.objects.all()}
    ordered = [rows.pop(pk) for pk in ids if pk in rows] + list(rows.values())
    with transaction.atomic():
        for position, row in enumerate(ordered, start=1):
            if row.position != position:
                SlaPolicy.objects.filter(pk=row.pk).update(position=position)


def active_policies() -> list[SlaPolicy]:
    return list(SlaPolicy.objects.filter(active=True).select_related("calendar"))


def policy_for(ticket: Ticket, policies: Sequence[SlaPolicy] | None = None) -> SlaPolicy | None:
    """The first active policy (by position) whose rule matches the ticket."""
    for row in policies if policies is not None else active_policies():
        if conditions.matches("ticket", ticket, row.rule):
            return row
    return None


# --- the ticket's history as the engine's timeline -----------------------------------------


def timeline_of(events: Iterable[TicketEvent]) -> list[Event]:
    """What the engine reads from a ticket's events, in their order: creation, public replies
    by agents, the requester's (and other contacts') messages, status and priority changes.
    Internal notes, bots and automatic replies move no clock."""
    timeline: list[Event] = []
    for event in events:
        data = event.data or {}
        if event.kind == EventKind.CREATED:
            status = Status.OPEN if data.get("split_from") else Status.NEW
            timeline.append(
                Event(at=event.at, type="created", status=status, priority=data.get("priority"))
            )
        elif event.kind == EventKind.MESSAGE_ADDED and data.get("public", True):
            if event.actor_kind == AuthorKind.AGENT:
                timeline.append(Event(at=event.at, type="agent_public_reply"))
            elif event.actor_kind == AuthorKind.CONTACT:
                timeline.append(Event(at=event.at, type="requester_message"))
        elif event.kind == EventKind.FIELD_CHANGED and data.get("field") == "status":
            timeline.append(Event(at=event.at, type="status_change", status=data.get("to")))
        elif event.kind == EventKind.FIELD_CHANGED and data.get("field") == "priority":
            timeline.append(Event(at=event.at, type="priority_change", priority=data.get("to")))
    return timeline


def histories_of(ticket_ids: Sequence[int]) -> dict[int, list[TicketEvent]]:
    """The clock-moving events of these tickets, each ticket's in order, in ticket id order (one
    query); a ticket without any is absent."""
    histories: dict[int, list[TicketEvent]] = {}
    for event in (
        TicketEvent.objects.filter(ticket_id__in=ticket_ids, kind__in=CLOCK_EVENTS)
        .only("ticket_id", "kind", "at", "data", "actor_kind")
        .order_by("ticket_id", "id")
    ):
        histories.setdefault(event.ticket_id, []).append(event)
    return histories


# --- evaluating and storing ----------------------------------------------------------------


@dataclass
class Refresh:
    """What one refresh changed: the clocks as stored now, and the events it recorded."""

    clocks: list[SlaClock] = field(default_factory=list)
    events: list[TicketEvent] = field(default_factory=list)


def refresh(
    ticket: Ticket, *, now: datetime, policies: Sequence[SlaPolicy] | None = None
) -> Refresh:
    """Evaluate the ticket's clocks as of `now` from its history and store them; record an
    event for each clock that paused, resumed, reached a warning or breached since the last
    refresh, and for a change of policy. Runs in its own transaction with the ticket locked,
    so the consumer and the tick never store the same clock twice."""
    return refresh_many([ticket.pk], now=now, policies=policies)


def refresh_many(
    ticket_ids: Sequence[int], *, now: datetime, policies: Sequence[SlaPolicy] | None = None
) -> Refresh:
    """`refresh` for many tickets in one transaction: the tickets locked in id order (two
    refreshes never wait on each other in a circle), their clocks and histories read in one
    query each, every policy's calendar once, and the clocks written in one statement per kind
    (new, changed). A clock that did not change is not written."""
    policies = list(policies) if policies is not None else active_policies()
    engine_policies: dict[int, Policy] = {}
    result = Refresh()
    with transaction.atomic():
        # Only the tickets' rows: PostgreSQL cannot lock the nullable side of the outer join
        # to the organization (nor need it).
        tickets = list(
            Ticket.objects.select_for_update(of=("self",))
            .select_related("requester", "organization")
            .filter(pk__in=ticket_ids)
            .order_by("pk")
        )
        ids = [ticket.pk for ticket in tickets]
        stored: dict[int, dict[tuple[str, int], SlaClock]] = {pk: {} for pk in ids}
        for clock in SlaClock.objects.filter(ticket_id__in=ids):
            stored[clock.ticket_id][(clock.metric, clock.cycle)] = clock
        histories = histories_of(ids)
        new: list[SlaClock] = []
        changed: list[SlaClock] = []
        for ticket in tickets:
            row = policy_for(ticket, policies)
            if row is not None and row.pk not in engine_policies:
                engine_policies[row.pk] = policy_of(row)
            policy = engine_policies[row.pk] if row is not None else None
            _refresh_one(
                ticket, row, policy, stored[ticket.pk], histories.get(ticket.pk, []),
                now=now, result=result, new=new, changed=changed,
            )  # fmt: skip
        SlaClock.objects.bulk_create(new)
        clock_rows.update(changed)
    return result


def _refresh_one(
    ticket: Ticket,
    row: SlaPolicy | None,
    policy: Policy | None,
    stored: Mapping[tuple[str, int], SlaClock],
    history: list[TicketEvent],
    *,
    now: datetime,
    result: Refresh,
    new: list[SlaClock],
    changed: list[SlaClock],
) -> None:
    old_policy = _policy_in_force(stored.values())
    if row is not None and row.pk != old_policy:
        result.events.append(_policy_changed(ticket, row, old_policy, now=now))
    elif row is None and old_policy is not None:
        result.events.append(_policy_changed(ticket, None, old_policy, now=now))
    clocks = evaluate(policy, timeline_of(history), at=now) if policy is not None else []
    seen: set[tuple[str, int]] = set()
    for clock in clocks:
        key = (clock.metric, clock.cycle)
        seen.add(key)
        previous = stored.get(key)
        was = previous.state if previous is not None else None
        before = clock_rows.values(previous) if previous is not None else None
        saved = _store(ticket, row, clock, previous, now=now)
        result.events.extend(_transitions(ticket, clock, was, saved, now=now))
        result.clocks.append(saved)
        if previous is None:
            new.append(saved)
        elif before is not None and clock_rows.values(saved)[:-1] != before[:-1]:
            changed.append(saved)  # evaluated_at alone is no change
    for key, previous in stored.items():
        if key not in seen and previous.state in RUNNING_STATES:
            previous.state = ClockState.CANCELLED
            previous.next_warning_at = None
            previous.evaluated_at = now
            changed.append(previous)
            result.clocks.append(previous)


def _policy_in_force(clocks: Iterable[SlaClock]) -> int | None:
    running = [c for c in clocks if c.state in RUNNING_STATES]
    for clock in running or list(clocks):
        if clock.policy_id is not None:
            return clock.policy_id
    return None


def _policy_changed(
    ticket: Ticket, row: SlaPolicy | None, old: int | None, *, now: datetime
) -> TicketEvent:
    old_name = (
        SlaPolicy.objects.filter(pk=old).values_list("name", flat=True).first()
        if old is not None
        else None
    )
    return record_system_event(
        ticket,
        EventKind.SLA_POLICY_CHANGED,
        by=SLA_ACTOR,
        at=now,
        cause=None,
        to=row.name if row else None,
        to_id=row.pk if row else None,
        **{"from": old_name, "from_id": old},
    )


def _state_of(clock: Clock) -> str:
    return {
        "active": ClockState.ACTIVE,
        "paused": ClockState.PAUSED,
        "achieved": ClockState.ACHIEVED,
        "breached": ClockState.BREACHED,
        "cancelled": ClockState.CANCELLED,
    }[clock.state]


def _store(
    ticket: Ticket,
    row: SlaPolicy | None,
    clock: Clock,
    previous: SlaClock | None,
    *,
    now: datetime,
) -> SlaClock:
    """The stored clock (or a new one) set to what the engine says; the caller writes it."""
    saved = previous or SlaClock(ticket=ticket, metric=clock.metric, cycle=clock.cycle)
    saved.policy = row
    saved.state = _state_of(clock)
    saved.measure = clock.measure
    saved.target_minutes = clock.target_minutes
    saved.started_at = clock.started_at
    saved.due_at = clock.due_at
    saved.achieved_at = clock.achieved_at
    saved.breached_at = clock.breached_at
    saved.stopped_at = clock.stopped_at
    saved.counted_minutes = clock.counted_minutes
    saved.paused_minutes = clock.paused_minutes
    saved.paused_business_minutes = clock.paused_business_minutes
    saved.evaluated_at = now
    warnings = sorted(clock.warnings_at) if saved.state == ClockState.ACTIVE else []
    pending = warnings[saved.warnings_sent :]
    saved.next_warning_at = pending[0] if pending else None
    return saved


def _transitions(
    ticket: Ticket, clock: Clock, was: str | None, saved: SlaClock, *, now: datetime
) -> list[TicketEvent]:
    """Events for what changed between the clock's stored state (`was`) and the one just
    evaluated. A clock found already breached announces the breach only, not warnings it
    passed meanwhile."""
    events: list[TicketEvent] = []

    def say(kind: EventKind, **data: object) -> None:
        events.append(
            record_system_event(
                ticket, kind, by=SLA_ACTOR, at=now, cause=None, metric=clock.metric,
                cycle=clock.cycle,
                **data,
            )
        )  # fmt: skip

    if saved.state == ClockState.PAUSED and was in (None, ClockState.ACTIVE):
        since = clock.pauses[-1][0] if clock.pauses else now
        say(EventKind.SLA_PAUSED, since=since.isoformat())
    elif saved.state == ClockState.ACTIVE and was == ClockState.PAUSED:
        say(EventKind.SLA_RESUMED, due=_iso(saved.due_at))
    if saved.state == ClockState.ACTIVE:
        levels = sorted(clock.warnings_at)
        crossed = [at for at in levels[saved.warnings_sent :] if at <= now]
        if crossed:
            saved.warnings_sent += len(crossed)
            later = levels[saved.warnings_sent :]
            saved.next_warning_at = later[0] if later else None
            say(
                EventKind.SLA_WARNING,
                due=_iso(saved.due_at),
                level=saved.warnings_sent,
                remaining_minutes=clock.remaining_minutes,
            )
    if saved.state == ClockState.BREACHED and not saved.breach_announced:
        saved.breach_announced = True
        saved.next_warning_at = None
        say(
            EventKind.SLA_BREACHED,
            breached_at=_iso(saved.breached_at),
            target_minutes=saved.target_minutes,
            stopped_at=_iso(saved.stopped_at),  # found late: the reply or solve came already
        )
    return events


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None


# --- what falls due ------------------------------------------------------------------------


def due_for_tick(now: datetime) -> Q:
    """Clocks whose warning or due instant has passed without being announced."""
    return Q(state=ClockState.ACTIVE, due_at__lte=now, breach_announced=False) | Q(
        state=ClockState.ACTIVE, next_warning_at__lte=now
    )


def tickets_due(now: datetime) -> list[int]:
    return list(
        SlaClock.objects.filter(due_for_tick(now))
        .values_list("ticket_id", flat=True)
        .distinct()
        .order_by("ticket_id")
    )


def next_due(clocks: Iterable[SlaClock]) -> SlaClock | None:
    """The running clock that falls due first (a list row's badge), or the latest breach."""
    running = [c for c in clocks if c.state in RUNNING_STATES and c.due_at is not None]
    if running:
        return min(running, key=lambda c: (c.state != ClockState.ACTIVE, c.due_at))
    return None


# --- the settings pages' changes -----------------------------------------------------------

# A longer range is a typo of a year (2026-12-24 to 2027-12-24), not a closure.
MAX_HOLIDAY_RANGE_DAYS = 366


def delete_calendar(row: BusinessCalendar) -> None:
    """Delete a calendar no policy counts in; InvalidInput names the policies that do."""
    users = list(row.policies.order_by("position", "id").values_list("name", flat=True))
    if users:
        them = "it" if len(users) == 1 else "them"
        raise InvalidInput(
            f"{row.name} is the calendar of the {_policies(users)}: "
            f"give {them} another calendar before deleting this one."
        )
    row.delete()


def _policies(names: Sequence[str]) -> str:
    if len(names) == 1:
        return f"policy {names[0]}"
    return f"policies {', '.join(names[:-1])} and {names[-1]}"


def add_holiday_range(
    row: BusinessCalendar, first: date, last: date | None = None, *, name: str = ""
) -> int:
    """Add `first` (through `last`, inclusive) as holidays named `name`; returns how many
    dates were new (dates the calendar already has keep their name)."""
    last = last or first
    if last < first:
        raise InvalidInput(f"Last day: {last:%Y-%m-%d} is before the first day, {first:%Y-%m-%d}.")
    span = (last - first).days + 1
    if span > MAX_HOLIDAY_RANGE_DAYS:
        raise InvalidInput(
            f"Last day: {span} days is more than a year; add at most "
            f"{MAX_HOLIDAY_RANGE_DAYS} days at once."
        )
    days = [first + timedelta(days=offset) for offset in range(span)]
    return add_holidays(row, days, name=" ".join(name.split()))


def remove_holidays(row: BusinessCalendar, ids: Iterable[int]) -> int:
    """Remove these holidays of this calendar (others' ids are ignored); returns how many."""
    removed, _ = Holiday.objects.filter(calendar=row, pk__in=list(ids)).delete()
    return removed


def move_policy(row: SlaPolicy, *, by: int) -> None:
    """Move a policy `by` places in the order (negative: earlier, so it is tried sooner)."""
    ids = list(SlaPolicy.objects.order_by("position", "id").values_list("pk", flat=True))
    index = ids.index(row.pk)
    ids.insert(max(0, min(len(ids) - 1, index + by)), ids.pop(index))
    reorder_policies(ids)


def delete_policy(row: SlaPolicy) -> None:
    """Delete a policy. Its tickets' clocks stay (without a policy); each ticket takes the
    next matching policy at its next event or tick."""
    row.delete()
