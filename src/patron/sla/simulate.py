"""`patron sla simulate`: what a policy (stored, or a draft not yet saved) would have made of
the tickets of a period, per segment and metric: how many clocks it measured, how many it
achieved and breached, and which breaches, so an admin sees a new agreement's effect before
signing it.

Each ticket's own stored events are replayed through the same engine the live clocks use
(`patron.sla.engine.evaluate`), at the end of the period; nothing is written. The events are
read in chunks of tickets, one query a chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from patron.conditions import engine as conditions
from patron.core.errors import InvalidInput
from patron.people.models import Segment
from patron.sla import replay as replay_format
from patron.sla.calendar import Calendar, FieldError
from patron.sla.engine import METRICS, Clock, Policy, evaluate
from patron.sla.models import SlaPolicy
from patron.sla.services import histories_of, policy_of, timeline_of
from patron.tickets.models import Ticket

__all__ = [
    "Breach",
    "SegmentResult",
    "Simulation",
    "Tally",
    "draft_policy",
    "simulate",
    "stored_policy",
]

# Tickets whose events one query reads; small enough for SQLite's limit on query variables.
CHUNK = 1000
# The results row every simulation has, whatever segments exist.
ALL = ("all", "All tickets")


@dataclass
class Tally:
    """One metric's clocks within one segment. `open` clocks were still running, neither
    achieved nor breached, at the end of the period; compliance is over the finished ones."""

    metric: str
    achieved: int = 0
    breached: int = 0
    open: int = 0

    @property
    def measured(self) -> int:
        return self.achieved + self.breached + self.open

    @property
    def compliance(self) -> float | None:
        """Achieved as a percentage of achieved and breached; None when neither happened."""
        finished = self.achieved + self.breached
        return round(100 * self.achieved / finished, 1) if finished else None


@dataclass(frozen=True)
class Breach:
    ticket_number: int
    metric: str
    cycle: int
    due_at: datetime
    # How far past the target the clock counted by the end of the period (or its stop), in the
    # metric's measure: business minutes for a business-time target.
    over_minutes: float
    measure: str
    segments: tuple[str, ...]


@dataclass
class SegmentResult:
    slug: str
    name: str
    tickets: int = 0
    tallies: dict[str, Tally] = field(default_factory=dict)

    def tally(self, metric: str) -> Tally:
        if metric not in self.tallies:
            self.tallies[metric] = Tally(metric)
        return self.tallies[metric]

    def metrics(self) -> list[Tally]:
        """The tallies in the engine's metric order."""
        return [self.tallies[metric] for metric in METRICS if metric in self.tallies]


@dataclass
class Simulation:
    policy: str
    start: datetime
    end: datetime
    evaluated_at: datetime
    segments: list[SegmentResult]
    breaches: list[Breach]

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "from": _iso(self.start),
            "to": _iso(self.end),
            "evaluated_at": _iso(self.evaluated_at),
            "segments": [
                {
                    "slug": result.slug,
                    "name": result.name,
                    "tickets": result.tickets,
                    "metrics": [
                        {
                            "metric": tally.metric,
                            "measured": tally.measured,
                            "achieved": tally.achieved,
                            "breached": tally.breached,
                            "open": tally.open,
                            "compliance": tally.compliance,
                        }
                        for tally in result.metrics()
                    ],
                }
                for result in self.segments
            ],
            "breaches": [
                {
                    "ticket": breach.ticket_number,
                    "metric": breach.metric,
                    "cycle": breach.cycle,
                    "due_at": _iso(breach.due_at),
                    "over_minutes": breach.over_minutes,
                    "measure": breach.measure,
                    "segments": list(breach.segments),
                }
                for breach in self.breaches
            ],
        }


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- the policy to simulate ----------------------------------------------------------------


def stored_policy(name: str) -> Policy:
    """The engine's policy for the stored one called `name` (any case, active or not)."""
    row = SlaPolicy.objects.select_related("calendar").filter(name__iexact=name.strip()).first()
    if row is None:
        names = ", ".join(SlaPolicy.objects.values_list("name", flat=True)) or "none yet"
        raise InvalidInput(f"There is no SLA policy called {name!r} (the policies: {names}).")
    return policy_of(row)


def draft_policy(text: str) -> Policy:
    """A policy from a JSON document in the replay shape: `policy` (required), `pause_rules`,
    `calendar` (none is 24/7) and `name`; any other key (a timeline) is ignored. A mistake is a
    FieldError naming the field."""
    document = replay_format.load_json(text)
    if not isinstance(document, Mapping):
        raise FieldError("(document)", "must be a JSON object with policy, pause_rules, calendar")
    if "policy" not in document:
        raise FieldError("policy", "is required")
    try:
        calendar = Calendar.from_json(document.get("calendar") or {"always_open": True})
    except FieldError as error:
        raise error.within("calendar") from None
    metrics = replay_format.metrics_from_json(document["policy"])
    if not any(metric.targets for metric in metrics.values()):
        raise FieldError("policy", "has no target: give at least one metric targets in minutes")
    name = document.get("name")
    return Policy(
        metrics=metrics,
        pause_rules=replay_format.pause_rules_from_json(document.get("pause_rules") or {}),
        calendar=calendar,
        name=name if isinstance(name, str) and name else "Draft policy",
    )


# --- the simulation ------------------------------------------------------------------------


def segments(slug: str | None = None) -> list[Segment]:
    """The saved segments (built-in first), or the one named; InvalidInput for an unknown one."""
    rows = list(Segment.objects.all())
    if slug is None:
        return rows
    chosen = [row for row in rows if row.slug == slug]
    if not chosen:
        known = ", ".join(row.slug for row in rows) or "none"
        raise InvalidInput(f"There is no segment {slug!r} (the segments: {known}).")
    return chosen


def simulate(
    policy: Policy,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    segment: str | None = None,
    chunk: int = CHUNK,
    progress: Callable[[int, int], None] | None = None,
) -> Simulation:
    """Replay `policy` over every ticket created in `[start, end)` (merged-away tickets left
    out: their work went on in the ticket they joined), each evaluated at the end of the period
    (or `now`, if that is sooner). With `segment`, only that segment's tickets are counted."""
    if end <= start:
        raise InvalidInput("The period ends before it starts: give --to on or after --from.")
    evaluated_at = min(end, now)
    in_period = Ticket.objects.filter(
        created_at__gte=start, created_at__lt=end, merged_into__isnull=True
    )
    chosen = segments(segment)
    members = {
        row.slug: set(
            in_period.filter(conditions.to_q("ticket", row.rule)).values_list("pk", flat=True)
        )
        for row in chosen
    }
    results = [SegmentResult(*ALL)] if segment is None else []
    results += [SegmentResult(row.slug, row.name) for row in chosen]
    by_slug = {result.slug: result for result in results}
    breaches: list[Breach] = []
    tickets = dict(in_period.order_by("pk").values_list("pk", "number"))
    ids = sorted(tickets if segment is None else members[segment])
    for result in results:
        result.tickets = len(ids) if result.slug == ALL[0] else len(members[result.slug])
    for ticket_id, clocks in _evaluated(
        policy, ids, at=evaluated_at, chunk=chunk, progress=progress
    ):
        slugs = ([ALL[0]] if segment is None else []) + [
            row.slug for row in chosen if ticket_id in members[row.slug]
        ]
        for clock in clocks:
            outcome = _outcome(clock)
            if outcome is None:
                continue
            for slug in slugs:
                tally = by_slug[slug].tally(clock.metric)
                setattr(tally, outcome, getattr(tally, outcome) + 1)
            if outcome == "breached":
                breaches.append(_breach(tickets[ticket_id], clock, slugs))
    breaches.sort(key=lambda b: (b.ticket_number, METRICS.index(b.metric), b.cycle))
    return Simulation(
        policy=policy.name,
        start=start,
        end=end,
        evaluated_at=evaluated_at,
        segments=results,
        breaches=breaches,
    )


def _evaluated(
    policy: Policy,
    ticket_ids: Sequence[int],
    *,
    at: datetime,
    chunk: int,
    progress: Callable[[int, int], None] | None,
) -> Iterator[tuple[int, list[Clock]]]:
    """Each ticket's clocks under `policy` at `at`, reading the events of `chunk` tickets in one
    query."""
    for offset in range(0, len(ticket_ids), chunk):
        histories = histories_of(ticket_ids[offset : offset + chunk])
        for ticket_id, history in histories.items():
            timeline = timeline_of(history)
            if timeline:
                yield ticket_id, evaluate(policy, timeline, at=at)
        if progress is not None:
            progress(min(offset + chunk, len(ticket_ids)), len(ticket_ids))


def _outcome(clock: Clock) -> str | None:
    """Which count a clock adds to: none for a clock without a target or one cancelled."""
    if clock.target_minutes is None or clock.state == "cancelled":
        return None
    if clock.state in ("achieved", "breached"):
        return clock.state
    return "open"


def _breach(number: int, clock: Clock, segments: Sequence[str]) -> Breach:
    assert clock.breached_at is not None and clock.remaining_minutes is not None
    return Breach(
        ticket_number=number,
        metric=clock.metric,
        cycle=clock.cycle,
        due_at=clock.breached_at,
        over_minutes=-clock.remaining_minutes,
        measure=clock.measure,
        segments=tuple(segments),
    )
