"""The SLA clock engine: a policy and a ticket's timeline in, every clock's state out.

`evaluate` is a pure function of its arguments: the live consumer, the periodic tick, the
simulator and `patron sla replay` all call it, so they agree by construction. The rules it
implements are written down, one by one, in docs/sla.md; the tests in tests/sla pin each.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from patron.sla.calendar import (
    Calendar,
    from_micros,
    micros_from_minutes,
    minutes_from_micros,
    to_micros,
)

__all__ = [
    "EVENT_TYPES",
    "MEASURED_ONLY",
    "METRICS",
    "STATUSES",
    "Clock",
    "Event",
    "MetricPolicy",
    "Policy",
    "evaluate",
]

METRICS = (
    "first_reply",
    "next_reply",
    "periodic_update",
    "resolution",
    "agent_work",
    "requester_wait",
)
REPLY_METRICS = frozenset({"first_reply", "next_reply", "periodic_update"})
# Measured from creation to solved, resumed by a reopen; the last two exist on every ticket.
SPAN_METRICS = frozenset({"resolution", "agent_work", "requester_wait"})
MEASURED_ONLY = ("agent_work", "requester_wait")
STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
EVENT_TYPES = (
    "created",
    "agent_public_reply",
    "requester_message",
    "status_change",
    "priority_change",
    "solved",
    "reopened",
)
MEASURES = ("business", "calendar")
STATES = ("active", "paused", "achieved", "breached", "cancelled")
DONE = frozenset({"solved", "closed"})
# Zendesk's definitions: agent work time counts in new/open, requester wait in new/open/on_hold.
DEFAULT_PAUSE_RULES: Mapping[str, frozenset[str]] = {
    "agent_work": frozenset({"pending", "on_hold"}),
    "requester_wait": frozenset({"pending"}),
}
# A requester's message sets these statuses back to open at its instant (tickets.services does
# the same through a status event; Zendesk's system rule).
REOPENED_BY_REQUESTER = frozenset({"pending", "on_hold", "solved"})


@dataclass(frozen=True)
class MetricPolicy:
    """How one metric is measured and what it promises per priority (minutes)."""

    measure: str
    targets: Mapping[str, float]
    warning_minutes: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            raise ValueError(f"measure {self.measure!r} is not business or calendar")
        for priority, minutes in self.targets.items():
            if minutes < 0:
                raise ValueError(f"the target for {priority} is negative ({minutes})")
        for lead in self.warning_minutes:
            if lead <= 0:
                raise ValueError(f"a warning lead time must be positive, not {lead}")


@dataclass(frozen=True)
class Policy:
    metrics: Mapping[str, MetricPolicy]
    pause_rules: Mapping[str, frozenset[str]]
    calendar: Calendar
    name: str = ""

    def __post_init__(self) -> None:
        for metric in (*self.metrics, *self.pause_rules):
            if metric not in METRICS:
                raise ValueError(f"{metric!r} is not a metric ({', '.join(METRICS)})")
        for metric, statuses in self.pause_rules.items():
            for status in statuses:
                if status not in STATUSES:
                    raise ValueError(f"pause rule for {metric}: {status!r} is not a status")

    def pauses(self, metric: str) -> frozenset[str]:
        """The statuses in which `metric` is paused (the policy's rule, else the default)."""
        if metric in self.pause_rules:
            return frozenset(self.pause_rules[metric])
        return DEFAULT_PAUSE_RULES.get(metric, frozenset())


@dataclass(frozen=True)
class Event:
    """One thing that happened to the ticket, as the SLA engine sees it."""

    at: datetime
    type: str
    status: str | None = None
    priority: str | None = None

    def __post_init__(self) -> None:
        to_micros(self.at)  # aware, or a ValueError
        if self.type not in EVENT_TYPES:
            raise ValueError(f"{self.type!r} is not an event type ({', '.join(EVENT_TYPES)})")
        if self.type == "status_change" and self.status not in STATUSES:
            raise ValueError(f"a status_change needs a status ({', '.join(STATUSES)})")
        if self.type == "created" and self.status is not None and self.status not in STATUSES:
            raise ValueError(f"{self.status!r} is not a status")
        if self.type == "priority_change" and not self.priority:
            raise ValueError("a priority_change needs a priority")


@dataclass(frozen=True)
class Clock:
    """One metric's cycle on one ticket, as of the evaluation instant.

    `due_at`: for an active clock the instant the target fills if nothing changes; for a
    paused clock the due if it resumed at the evaluation instant (so now + remaining); for an
    achieved clock the due it had when it stopped; for a breached one the breach instant.
    `warnings_at` (active clocks only) has one instant per warning level, in the policy's
    order: the earliest instant the remaining time is at most the lead; it may be past.
    `stopped_at` is when the cycle's stopping event happened (the reply, the solve, the close),
    whatever the outcome, so a breached clock still says when it was answered.
    """

    metric: str
    cycle: int
    state: str
    started_at: datetime
    target_minutes: float | None
    measure: str
    due_at: datetime | None
    warnings_at: tuple[datetime, ...]
    achieved_at: datetime | None
    breached_at: datetime | None
    counted_minutes: float
    paused_minutes: float
    paused_business_minutes: float
    pauses: tuple[tuple[datetime, datetime | None], ...]
    stopped_at: datetime | None = None

    @property
    def remaining_minutes(self) -> float | None:
        """Target minus counted minutes (negative once breached); None without a target."""
        if self.target_minutes is None:
            return None
        return minutes_from_micros(
            micros_from_minutes(self.target_minutes) - micros_from_minutes(self.counted_minutes)
        )


# --- reading the timeline ------------------------------------------------------------------


@dataclass
class _Cycle:
    metric: str
    number: int
    start: int
    targets: list[tuple[int, float | None]]  # (from this instant, target minutes)
    stop: int | None = None
    stop_kind: str = ""  # "reply" or "closed"


@dataclass
class _Ticket:
    """What one pass over the events learns: status changes, priority, the metric cycles."""

    policy: Policy
    status: str
    priority: str | None
    statuses: list[tuple[int, str]]
    cycles: list[_Cycle] = field(default_factory=list)
    open: dict[str, _Cycle] = field(default_factory=dict)
    first_reply_done: bool = False
    unanswered_since: int | None = None

    def target(self, metric: str) -> float | None:
        metric_policy = self.policy.metrics.get(metric)
        if metric_policy is None or self.priority is None:
            return None
        value = metric_policy.targets.get(self.priority)
        return None if value is None else float(value)

    def tracks(self, metric: str) -> bool:
        return metric in self.policy.metrics or metric in MEASURED_ONLY

    def start(self, metric: str, at: int) -> None:
        if not self.tracks(metric):
            return
        number = 1 + sum(1 for cycle in self.cycles if cycle.metric == metric)
        cycle = _Cycle(metric, number, at, [(at, self.target(metric))])
        self.cycles.append(cycle)
        self.open[metric] = cycle

    def stop(self, metric: str, at: int, kind: str) -> None:
        cycle = self.open.pop(metric, None)
        if cycle is not None:
            cycle.stop, cycle.stop_kind = at, kind

    def set_status(self, status: str, at: int) -> None:
        old = self.status
        if status == old:
            return
        self.status = status
        self.statuses.append((at, status))
        if status == "closed":
            for metric in REPLY_METRICS:
                self.stop(metric, at, "closed")
        elif old in DONE:  # reopened: the span clocks run again, reassessed at this instant
            for metric in SPAN_METRICS:
                if metric in self.open:
                    self.open[metric].targets.append((at, self.target(metric)))

    def change_priority(self, priority: str, at: int) -> None:
        self.priority = priority
        for metric, cycle in self.open.items():
            if metric in SPAN_METRICS and self.status in DONE:
                continue  # achieved: it keeps its target (a reopen reassesses it)
            cycle.targets.append((at, self.target(metric)))

    def agent_reply(self, at: int) -> None:
        self.stop("first_reply", at, "reply")
        self.stop("next_reply", at, "reply")
        self.stop("periodic_update", at, "reply")
        self.first_reply_done = True
        self.unanswered_since = None
        self.start("periodic_update", at)

    def requester_message(self, at: int) -> None:
        if self.status in REOPENED_BY_REQUESTER:
            self.set_status("open", at)
        if self.unanswered_since is None:
            self.unanswered_since = at
        if self.first_reply_done and "next_reply" not in self.open:
            self.start("next_reply", self.unanswered_since)


def _read(policy: Policy, timeline: Sequence[Event], at: int) -> _Ticket | None:
    stamped = [(to_micros(event.at), event.type != "created", event) for event in timeline]
    ordered = sorted(
        (item for item in stamped if item[0] <= at), key=lambda item: (item[0], item[1])
    )
    if not ordered:
        return None
    created_at, _, created = ordered[0]
    if created.type != "created":
        raise ValueError("the timeline must begin with a 'created' event")
    status = created.status or "new"
    ticket = _Ticket(policy, status, created.priority, [(created_at, status)])
    for metric in ("first_reply", *sorted(SPAN_METRICS, key=METRICS.index)):
        ticket.start(metric, created_at)
    if status == "closed":
        return ticket
    for moment, _, event in ordered[1:]:
        if event.type == "created":
            raise ValueError("the timeline has more than one 'created' event")
        if event.type == "agent_public_reply":
            ticket.agent_reply(moment)
        elif event.type == "requester_message":
            ticket.requester_message(moment)
        elif event.type == "status_change":
            assert event.status is not None
            ticket.set_status(event.status, moment)
        elif event.type == "solved":
            ticket.set_status("solved", moment)
        elif event.type == "reopened":
            if ticket.status == "solved":
                ticket.set_status("open", moment)
        elif event.type == "priority_change":
            assert event.priority is not None
            ticket.change_priority(event.priority, moment)
        if ticket.status == "closed":
            break  # a closed ticket changes no more (a follow-up is another ticket)
    return ticket


# --- one clock -----------------------------------------------------------------------------

# A stretch of real time in which the clock counts: (start, end or None if it goes on, its
# length in the metric's measure, 0 when open).
Run = tuple[int, int | None, int]


@dataclass(frozen=True)
class _Measure:
    calendar: Calendar
    business: bool

    def length(self, start: int, end: int) -> int:
        if self.business:
            return self.calendar.between_micros(start, end)
        return max(end - start, 0)

    def add(self, start: int, amount: int) -> int:
        if self.business:
            return self.calendar.add_micros(start, amount)
        return start + max(amount, 0)


def _reach(runs: Sequence[Run], amount: int, measure: _Measure) -> int | None:
    """The earliest instant at which the counted time reaches `amount` (a run's end counts)."""
    counted = 0
    for start, end, length in runs:
        left = amount - counted
        if end is None or left <= length:
            return measure.add(start, max(left, 0))
        counted += length
    return None


def _breach(runs: Sequence[Run], target: int, measure: _Measure) -> int | None:
    """The earliest instant at which a clock that is counting has reached its target.

    Filling the target exactly as a run ends (a reply, a solve or a pause at the due instant)
    is no breach: only counting on past it is, from the start of the next run.
    """
    counted = 0
    for start, end, length in runs:
        left = target - counted
        if left <= 0:
            return start
        if end is None:
            return measure.add(start, left)
        if left <= length:
            due = measure.add(start, left)
            if due < end:
                return due
        counted += length
    return None


def _status_at(statuses: Sequence[tuple[int, str]], at: int) -> str:
    current = statuses[0][1]
    for moment, status in statuses:
        if moment > at:
            break
        current = status
    return current


def _stretches(
    statuses: Sequence[tuple[int, str]],
    start: int,
    end: int,
    counting: frozenset[str],
    paused: frozenset[str],
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The merged parts of [start, end) whose status counts, and those whose status pauses."""
    runs: list[tuple[int, int]] = []
    pauses: list[tuple[int, int]] = []
    last = len(statuses) - 1
    for index, (moment, status) in enumerate(statuses):
        following = statuses[index + 1][0] if index < last else end
        lo = moment if moment > start else start
        hi = following if following < end else end
        if lo >= hi:
            continue
        result = runs if status in counting else pauses if status in paused else None
        if result is None:
            continue
        if result and result[-1][1] == lo:
            result[-1] = (result[-1][0], hi)
        else:
            result.append((lo, hi))
    return runs, pauses


@functools.cache
def _status_sets(metric: str, pauses: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
    """The statuses in which a metric's clock counts, and those in which it is paused."""
    counting = frozenset(STATUSES) - pauses - DONE
    paused = pauses | DONE if metric in REPLY_METRICS else pauses - DONE
    return counting, paused


def _clock(ticket: _Ticket, cycle: _Cycle, at: int) -> Clock | None:
    policy, metric = ticket.policy, cycle.metric
    metric_policy = policy.metrics.get(metric)
    measure_name = metric_policy.measure if metric_policy is not None else "calendar"
    measure = _Measure(policy.calendar, measure_name == "business")
    counting, paused = _status_sets(metric, policy.pauses(metric))
    end = cycle.stop if cycle.stop is not None else at
    status_now = _status_at(ticket.statuses, end)
    live = cycle.stop is None and not (metric in SPAN_METRICS and status_now in DONE)

    counted_runs, pause_list = _stretches(ticket.statuses, cycle.start, end, counting, paused)
    runs: list[Run] = [(lo, hi, measure.length(lo, hi)) for lo, hi in counted_runs]
    counted = sum(length for _, _, length in runs)
    if live and status_now in counting:  # still counting: the future is this run going on
        if runs and runs[-1][1] == at:
            runs[-1] = (runs[-1][0], None, 0)
        else:
            runs.append((at, None, 0))
    paused_real = sum(hi - lo for lo, hi in pause_list)
    paused_business = sum(policy.calendar.between_micros(lo, hi) for lo, hi in pause_list)
    shown_pauses = tuple(
        (from_micros(lo), None if live and hi == at and status_now in paused else from_micros(hi))
        for lo, hi in pause_list
    )
    stopped: int | None = cycle.stop
    if metric in SPAN_METRICS and status_now in DONE:
        stopped = _done_since(ticket.statuses, end)

    breach: tuple[int, float] | None = None
    for index, (_, target) in enumerate(cycle.targets):
        if target is None:
            continue
        instant = _breach(runs, micros_from_minutes(target), measure)
        if instant is None:
            continue
        until = cycle.targets[index + 1][0] if index + 1 < len(cycle.targets) else None
        if until is None:
            if instant <= at:
                breach = (instant, target)
            break
        if instant < until:  # an event at the due instant is taken before the breach
            breach = (instant, target)
            break

    target = cycle.targets[-1][1]
    due: int | None = None
    warnings: tuple[datetime, ...] = ()
    if breach is not None:
        state, target, due = "breached", breach[1], breach[0]
    elif target is None and metric not in MEASURED_ONLY:
        if all(value is None for _, value in cycle.targets):
            return None  # never had a target: no clock
        state = "cancelled"
    elif cycle.stop is not None and cycle.stop_kind == "closed":
        state, target = "cancelled", None
    elif stopped is not None:
        state = "achieved"
    elif status_now in counting:
        state = "active"
    else:
        state = "paused"

    if target is not None and state in ("active", "paused", "achieved"):
        target_us = micros_from_minutes(target)
        left = max(target_us - counted, 0)
        if state == "active":
            due = _breach(runs, target_us, measure)
            leads = metric_policy.warning_minutes if metric_policy is not None else ()
            instants = (
                _reach(runs, target_us - micros_from_minutes(lead), measure) for lead in leads
            )
            warnings = tuple(from_micros(i) for i in instants if i is not None)
        elif state == "paused":
            due = measure.add(at, left)  # the due if it resumed now
        elif stopped is not None:
            due = measure.add(stopped, left)  # the due it had when it stopped
    return Clock(
        metric=metric,
        cycle=cycle.number,
        state=state,
        started_at=from_micros(cycle.start),
        target_minutes=target,
        measure=measure_name,
        due_at=None if due is None else from_micros(due),
        warnings_at=warnings,
        achieved_at=from_micros(stopped) if state == "achieved" and stopped is not None else None,
        breached_at=from_micros(breach[0]) if breach is not None else None,
        counted_minutes=minutes_from_micros(counted),
        paused_minutes=minutes_from_micros(paused_real),
        paused_business_minutes=minutes_from_micros(paused_business),
        pauses=shown_pauses,
        stopped_at=None if stopped is None else from_micros(stopped),
    )


def _done_since(statuses: Sequence[tuple[int, str]], at: int) -> int:
    """When the ticket last became solved (or closed) at or before `at`."""
    since = statuses[0][0]
    previous_done = False
    for moment, status in statuses:
        if moment > at:
            break
        is_done = status in DONE
        if is_done and not previous_done:
            since = moment
        previous_done = is_done
    return since


def evaluate(policy: Policy, timeline: Sequence[Event], *, at: datetime) -> list[Clock]:
    """Every clock of `policy` over `timeline` as of `at`, in METRICS order, then by cycle.

    Events after `at` are ignored; events at one instant keep their order (a created event
    goes first). A metric the policy has no target for at any point has no clock, except the
    measured-only agent_work and requester_wait.
    """
    moment = to_micros(at)
    ticket = _read(policy, timeline, moment)
    if ticket is None:
        return []
    clocks = [
        clock for cycle in ticket.cycles if (clock := _clock(ticket, cycle, moment)) is not None
    ]
    clocks.sort(key=lambda clock: (METRICS.index(clock.metric), clock.cycle))
    return clocks
