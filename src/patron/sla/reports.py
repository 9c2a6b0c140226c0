"""SLA compliance over a period, grouped by policy, metric, segment, team or agent, and the
breaches behind it, in words (docs/sla.md, "Reports").

A clock counts in a period by when it finished: an achieved clock by `achieved_at`, a breached
one by `breached_at` (its due instant), each in `[period_start, period_end)`. Running clocks are
not counted yet, cancelled ones never, and neither are measured-only clocks (no target: they
cannot breach). Counts are aggregated in SQL; the times to achieve are read in one narrow query
per report for the median and 90th percentile, which SQLite cannot compute.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from patron.conditions import engine as conditions
from patron.core.errors import InvalidInput
from patron.people.models import Relationship, Segment
from patron.people.segments import BUILTIN_SEGMENTS
from patron.sla import services
from patron.sla.badges import METRIC_NAMES
from patron.sla.calendar import Calendar
from patron.sla.engine import METRICS
from patron.sla.models import ClockState, SlaClock, SlaPolicy
from patron.tickets.models import Status, Ticket

GroupBy = Literal["policy", "metric", "segment", "team", "agent"]
GROUP_KINDS: tuple[str, ...] = get_args(GroupBy)

# What a breach of each metric means, before "within <target>".
BROKEN_PROMISES = {
    "first_reply": "No first public reply",
    "next_reply": "No public reply to the requester's message",
    "periodic_update": "No public update",
    "resolution": "Not solved",
    "agent_work": "Agent work time went past the target",
    "requester_wait": "The requester waited past the target",
}
MEDIAN, P90 = 50, 90
NO_TEAM, UNASSIGNED, NO_POLICY = "No team", "Unassigned", "No policy (deleted)"
MINUTES_PER_HOUR = 60


@dataclass(frozen=True)
class Filters:
    """Narrow a report; None means any. `segment` is a segment's slug (clients, customers or
    a saved segment's)."""

    policy: int | None = None
    metric: str | None = None
    segment: str | None = None
    team: int | None = None
    assignee: int | None = None


@dataclass(frozen=True)
class ComplianceRow:
    group: str  # the group's name: "Gold clients", "First reply", "Clients", "Billing", "Sam Ito"
    key: str  # what to filter by to see this group alone ("" for none: no team, unassigned)
    achieved: int
    breached: int
    # The measure the times are in, when every achieved clock of the group has the same one;
    # "" when they mix (a median of business and calendar minutes would mean nothing).
    measure: str
    median_minutes: float | None
    p90_minutes: float | None
    note: str = ""

    @property
    def clocks(self) -> int:
        return self.achieved + self.breached

    @property
    def compliance(self) -> float | None:
        """Percent achieved of the clocks that finished; None when none did."""
        return 100 * self.achieved / self.clocks if self.clocks else None


@dataclass(frozen=True)
class SegmentChoice:
    slug: str
    name: str
    rule: Mapping[str, Any]


@dataclass(frozen=True)
class BreachRow:
    clock_id: int
    ticket_number: int
    subject: str
    requester: str
    organization: str
    relationship: str  # "Client" or "Customer"
    policy: str
    metric: str
    cycle: int
    measure: str
    target_minutes: float
    breached_at: datetime  # the due instant
    stopped_at: datetime | None  # when its cycle stopped (the late reply); None: still running
    # How far past the target, in the metric's measure: the counted minutes past it at the
    # stop; for a clock still running, the minutes from the breach to now.
    over_minutes: float
    paused_minutes: float
    status: str
    assignee: str
    team: str
    reason: str


# --- which clocks count -------------------------------------------------------------------


def check_period(period_start: datetime, period_end: datetime) -> None:
    if period_start.tzinfo is None or period_end.tzinfo is None:
        raise InvalidInput("A report period needs times with a time zone.")
    if period_end <= period_start:
        raise InvalidInput("The period must end after it starts.")


def segment_choices() -> list[SegmentChoice]:
    """Clients and Customers (by relationship, whether or not their rows exist), then every
    saved segment by name."""
    builtin = [
        SegmentChoice(str(spec["slug"]), str(spec["name"]), _rule(spec["rule"]))
        for spec in BUILTIN_SEGMENTS
    ]
    taken = {choice.slug for choice in builtin}
    saved = [
        SegmentChoice(row.slug, row.name, row.rule)
        for row in Segment.objects.order_by("name").only("slug", "name", "rule")
        if row.slug not in taken
    ]
    return builtin + saved


def _rule(value: object) -> Mapping[str, Any]:
    assert isinstance(value, Mapping)
    return value


def _in_segment(choice: SegmentChoice) -> Exists:
    """Whether a clock's ticket is one the segment's rule selects (InvalidInput if the rule
    cannot be read)."""
    tickets = Ticket.objects.filter(conditions.to_q("ticket", choice.rule))
    return Exists(tickets.filter(pk=OuterRef("ticket_id")))


def finished_clocks(
    period_start: datetime, period_end: datetime, filters: Filters = Filters()
) -> QuerySet[SlaClock]:
    """The clocks with a target that were achieved or breached in `[period_start, period_end)`."""
    check_period(period_start, period_end)
    achieved = Q(
        state=ClockState.ACHIEVED, achieved_at__gte=period_start, achieved_at__lt=period_end
    )
    breached = Q(
        state=ClockState.BREACHED, breached_at__gte=period_start, breached_at__lt=period_end
    )
    clocks = SlaClock.objects.filter(achieved | breached, target_minutes__isnull=False)
    if filters.policy is not None:
        clocks = clocks.filter(policy_id=filters.policy)
    if filters.metric:
        if filters.metric not in METRICS:
            raise InvalidInput(f"There is no metric {filters.metric!r}.")
        clocks = clocks.filter(metric=filters.metric)
    if filters.team is not None:
        clocks = clocks.filter(ticket__team_id=filters.team)
    if filters.assignee is not None:
        clocks = clocks.filter(ticket__assignee_id=filters.assignee)
    if filters.segment:
        choice = next((c for c in segment_choices() if c.slug == filters.segment), None)
        if choice is None:
            raise InvalidInput(f"There is no segment {filters.segment!r}.")
        clocks = clocks.filter(_in_segment(choice))
    return clocks


# --- compliance ---------------------------------------------------------------------------


def compliance(
    period_start: datetime,
    period_end: datetime,
    *,
    group_by: GroupBy,
    filters: Filters = Filters(),
) -> list[ComplianceRow]:
    """One row per group with clocks that finished in the period (every segment has a row)."""
    if group_by not in GROUP_KINDS:
        raise InvalidInput(f"Group by one of {', '.join(GROUP_KINDS)}, not {group_by!r}.")
    clocks = finished_clocks(period_start, period_end, filters)
    if group_by == "segment":
        return _by_segment(clocks)
    return _by_column(clocks, group_by)


# Per group kind: the column grouped on, the columns naming it, and how rows are ordered.
_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "policy": ("policy_id", ("policy__name", "policy__position")),
    "metric": ("metric", ()),
    "team": ("ticket__team_id", ("ticket__team__name",)),
    "agent": (
        "ticket__assignee_id",
        (
            "ticket__assignee__first_name",
            "ticket__assignee__last_name",
            "ticket__assignee__username",
        ),
    ),
}


def _by_column(clocks: QuerySet[SlaClock], group_by: str) -> list[ComplianceRow]:
    column, names = _COLUMNS[group_by]
    counts = (
        clocks.values(column, *names)
        .annotate(
            achieved=Count("pk", filter=Q(state=ClockState.ACHIEVED)),
            breached=Count("pk", filter=Q(state=ClockState.BREACHED)),
        )
        .order_by()
    )
    times = _times(clocks, lambda values: [values[column]], column)
    rows = []
    for values in counts:
        key = values[column]
        label, order = _label(group_by, key, values)
        rows.append((order, _row(label, "" if key is None else str(key), values, times[key])))
    return [row for _, row in sorted(rows, key=lambda pair: pair[0])]


def _label(group_by: str, key: Any, values: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """The group's name and its place in the table (nameless groups last)."""
    if group_by == "metric":
        return METRIC_NAMES.get(key, key), (METRICS.index(key) if key in METRICS else len(METRICS),)
    if key is None:
        return {"policy": NO_POLICY, "team": NO_TEAM, "agent": UNASSIGNED}[group_by], (1, "")
    if group_by == "policy":
        return values["policy__name"], (0, values["policy__position"], values["policy__name"])
    if group_by == "team":
        return values["ticket__team__name"], (0, values["ticket__team__name"].lower())
    full = f"{values['ticket__assignee__first_name']} {values['ticket__assignee__last_name']}"
    name = full.strip() or values["ticket__assignee__username"]
    return name, (0, name.lower())


def _by_segment(clocks: QuerySet[SlaClock]) -> list[ComplianceRow]:
    """Segments overlap, so each is a pair of conditional counts in one aggregate query, and a
    flag per segment on each achieved clock's time."""
    choices: list[SegmentChoice] = []
    inside: dict[str, Exists] = {}
    notes: dict[str, str] = {}
    for choice in segment_choices():
        choices.append(choice)
        try:
            inside[choice.slug] = _in_segment(choice)
        except InvalidInput as error:
            notes[choice.slug] = f"Its rule cannot be read: {error}"
    aggregates = {}
    for n, slug in enumerate(inside):
        aggregates[f"achieved_{n}"] = Count("pk", filter=Q(inside[slug], state=ClockState.ACHIEVED))
        aggregates[f"breached_{n}"] = Count("pk", filter=Q(inside[slug], state=ClockState.BREACHED))
    totals = clocks.aggregate(**aggregates) if aggregates else {}
    flags = {f"in_{n}": inside[slug] for n, slug in enumerate(inside)}
    times = _times(
        clocks.annotate(**flags),
        lambda values: [slug for n, slug in enumerate(inside) if values[f"in_{n}"]],
        *flags,
    )
    rows = []
    for choice in choices:
        if choice.slug not in inside:
            rows.append(ComplianceRow(choice.name, choice.slug, 0, 0, "", None, None,
                                      notes[choice.slug]))  # fmt: skip
            continue
        n = list(inside).index(choice.slug)
        values = {"achieved": totals[f"achieved_{n}"], "breached": totals[f"breached_{n}"]}
        rows.append(_row(choice.name, choice.slug, values, times[choice.slug]))
    return rows


@dataclass
class _Times:
    minutes: list[float]
    measures: set[str]


def _times(
    clocks: QuerySet[SlaClock],
    groups_of: Any,
    *columns: str,
) -> defaultdict[Any, _Times]:
    """The achieved clocks' counted minutes per group, from one query."""
    found: defaultdict[Any, _Times] = defaultdict(lambda: _Times([], set()))
    achieved = clocks.filter(state=ClockState.ACHIEVED).values(
        "counted_minutes", "measure", *columns
    )
    for values in achieved.order_by().iterator():
        for group in groups_of(values):
            found[group].minutes.append(values["counted_minutes"])
            found[group].measures.add(values["measure"])
    return found


def _row(label: str, key: str, counts: Mapping[str, int], times: _Times) -> ComplianceRow:
    measure = next(iter(times.measures)) if len(times.measures) == 1 else ""
    median = p90 = None
    if measure:
        median, p90 = statistics.median(times.minutes), percentile(times.minutes, P90)
    return ComplianceRow(
        group=label,
        key=key,
        achieved=counts["achieved"],
        breached=counts["breached"],
        measure=measure,
        median_minutes=median,
        p90_minutes=p90,
        note="" if measure or not times.minutes else "Times mix business and calendar minutes.",
    )


def percentile(values: Sequence[float], p: int) -> float:
    """The nearest-rank percentile: the smallest value at least p% of the values are at or
    below (rank ceil(p/100 * n))."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p * len(ordered) / 100))
    return ordered[rank - 1]


# --- breaches -----------------------------------------------------------------------------


def breach_clocks(
    period_start: datetime, period_end: datetime, filters: Filters = Filters()
) -> QuerySet[SlaClock]:
    """The clocks breached in the period, latest breach first, with what their rows show."""
    return (
        finished_clocks(period_start, period_end, filters)
        .filter(state=ClockState.BREACHED)
        .select_related(
            "policy__calendar",
            "ticket__requester__organization",
            "ticket__organization",
            "ticket__assignee",
            "ticket__team",
        )
        .prefetch_related("ticket__requester__emails")
        .order_by("-breached_at", "-pk")
    )


def breaches(
    period_start: datetime, period_end: datetime, filters: Filters = Filters(), *, now: datetime
) -> list[BreachRow]:
    return list(breach_rows(breach_clocks(period_start, period_end, filters), now=now))


def breach_rows(clocks: Iterable[SlaClock], *, now: datetime) -> Iterator[BreachRow]:
    """Rows for clocks from `breach_clocks` (a page of them, or all); a business calendar is
    read once per policy, for the clocks still running."""
    calendars: dict[int | None, Calendar] = {}

    def calendar(clock: SlaClock) -> Calendar:
        if clock.policy_id not in calendars:
            calendars[clock.policy_id] = services.calendar_of(
                clock.policy.calendar if clock.policy else None
            )
        return calendars[clock.policy_id]

    for clock in clocks:
        ticket = clock.ticket
        requester = ticket.requester
        target = clock.target_minutes or 0
        assert clock.breached_at is not None
        yield BreachRow(
            clock_id=clock.pk,
            ticket_number=ticket.number,
            subject=ticket.subject,
            requester=_requester(requester.name, requester.primary_email),
            organization=ticket.organization.name if ticket.organization else "",
            relationship=Relationship(requester.relationship).label,
            policy=clock.policy.name if clock.policy else NO_POLICY,
            metric=clock.metric,
            cycle=clock.cycle,
            measure=clock.measure,
            target_minutes=target,
            breached_at=clock.breached_at,
            stopped_at=clock.stopped_at,
            over_minutes=_over(clock, calendar, now=now),
            paused_minutes=clock.paused_minutes,
            status=Status(ticket.status).label,
            assignee=_person(ticket.assignee) if ticket.assignee else "",
            team=ticket.team.name if ticket.team else "",
            reason=reason(clock),
        )


def _over(clock: SlaClock, calendar: Callable[[SlaClock], Calendar], *, now: datetime) -> float:
    assert clock.breached_at is not None
    if clock.stopped_at is not None:
        return max(0.0, clock.counted_minutes - (clock.target_minutes or 0))
    if clock.measure == "business":
        return calendar(clock).between(clock.breached_at, now)
    return max(0.0, (now - clock.breached_at).total_seconds() / 60)


def _requester(name: str, email: str) -> str:
    return f"{name} <{email}>" if name and email else name or email


def _person(user: Any) -> str:
    return str(user.get_full_name() or user.username)


def reason(clock: SlaClock) -> str:
    """Why the clock breached, in words: the promise, in its terms, then whether it was
    paused, then where the ticket stands now."""
    promise = BROKEN_PROMISES.get(clock.metric, METRIC_NAMES.get(clock.metric, clock.metric))
    cycle = f" (cycle {clock.cycle})" if clock.cycle > 1 else ""
    words = [f"{promise}{cycle} within {target_in_words(clock)}"]
    if clock.paused_minutes:
        words.append(f"paused {minutes_in_words(clock.paused_minutes)} in all")
    else:
        words.append("never paused")
    ticket = clock.ticket
    status = Status(ticket.status).label.lower()
    holder = f"assigned to {_person(ticket.assignee)}" if ticket.assignee else "unassigned"
    words.append(f"now {status}, {holder}")
    return "; ".join(words)


def target_in_words(clock: SlaClock) -> str:
    """ "1 business hour (Jakarta office)", "8 hours (calendar time)"."""
    target = clock.target_minutes or 0
    calendar = clock.policy.calendar if clock.policy else None
    if clock.measure == "business" and calendar is not None and not calendar.always_open:
        return f"{minutes_in_words(target, unit='business ')} ({calendar.name})"
    return f"{minutes_in_words(target)} (calendar time)"


def minutes_in_words(minutes: float, *, unit: str = "") -> str:
    """Whole hours as hours ("1 business hour", "8 hours"), anything else as minutes."""
    if minutes and minutes % MINUTES_PER_HOUR == 0:
        hours = int(minutes // MINUTES_PER_HOUR)
        return f"{hours} {unit}hour{'s' if hours != 1 else ''}"
    shown = int(minutes) if float(minutes).is_integer() else round(minutes, 1)
    return f"{shown} {unit}minute{'s' if shown != 1 else ''}"


def policy_names() -> dict[int, str]:
    return dict(SlaPolicy.objects.values_list("pk", "name"))
