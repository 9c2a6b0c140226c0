"""What an agent sees of a ticket's service levels: one badge per list row (the most urgent
clock) and a line per clock on the ticket page, in the policy's own terms (business time shown
as business time, with its calendar named), in words as well as colour."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from patron.sla import services
from patron.sla.calendar import Calendar
from patron.sla.models import ClockState, SlaClock, SlaPolicy

METRIC_NAMES = {
    "first_reply": "First reply",
    "next_reply": "Next reply",
    "periodic_update": "Periodic update",
    "resolution": "Resolution",
    "agent_work": "Agent work time",
    "requester_wait": "Requester wait time",
}
MEASURED_ONLY = frozenset({"agent_work", "requester_wait"})


@dataclass(frozen=True)
class Badge:
    metric: str
    label: str  # "First reply"
    text: str  # "45 business min left (Jakarta office)", "breached 12 min ago"
    tone: str  # ok | warning | breached | paused | achieved
    due_at: datetime | None
    clock: SlaClock

    @property
    def title(self) -> str:
        """The whole sentence, for a tooltip and screen readers."""
        return f"{self.label}: {self.text}"


def duration(minutes: float) -> str:
    """Minutes in words: "45 min", "2 h 5 min", "3 d 4 h" (a day is 24 hours of the measure)."""
    total = max(0, round(minutes))
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def _calendars(clocks: Iterable[SlaClock]) -> dict[int | None, Calendar]:
    ids = {clock.policy_id for clock in clocks}
    rows = SlaPolicy.objects.filter(pk__in=[i for i in ids if i is not None]).select_related(
        "calendar"
    )
    calendars: dict[int | None, Calendar] = {None: Calendar.always()}
    for row in rows:
        calendars[row.pk] = services.calendar_of(row.calendar)
    return calendars


def _terms(clock: SlaClock, calendar: Calendar) -> tuple[str, str]:
    """(" business", " (Jakarta office)") for business time, ("", "") for calendar time."""
    if clock.measure == "business" and not calendar.always_open:
        return " business", f" ({calendar.name})" if calendar.name else ""
    return "", ""


def badge(clock: SlaClock, calendar: Calendar, *, now: datetime) -> Badge:
    """One clock in words as of `now`."""
    label = METRIC_NAMES.get(clock.metric, clock.metric)
    if clock.cycle > 1:
        label = f"{label} #{clock.cycle}"
    unit, where = _terms(clock, calendar)

    def measure(a: datetime, b: datetime) -> float:
        return calendar.between(a, b) if unit else (b - a).total_seconds() / 60

    def make(text: str, tone: str) -> Badge:
        return Badge(clock.metric, label, text, tone, clock.due_at, clock)

    if clock.state == ClockState.BREACHED:
        since = clock.breached_at or clock.due_at or now
        if clock.stopped_at is not None:
            late = measure(since, clock.stopped_at)
            return make(f"breached, answered {duration(late)}{unit} late{where}", "breached")
        return make(f"breached {duration(measure(since, now))}{unit} ago{where}", "breached")
    if clock.state == ClockState.ACHIEVED:
        return make("achieved", "achieved")
    if clock.state == ClockState.CANCELLED:
        return make("no longer measured", "achieved")
    if clock.target_minutes is None:
        return make(f"{duration(clock.counted_minutes)}{unit} so far{where}", "ok")
    if clock.state == ClockState.PAUSED:
        left = clock.target_minutes - clock.counted_minutes
        return make(f"paused, {duration(left)}{unit} left{where}", "paused")
    due = clock.due_at or now
    if due <= now:  # the tick has not announced it yet: it is breached all the same
        return make(f"breached {duration(measure(due, now))}{unit} ago{where}", "breached")
    left = measure(now, due)
    warning = clock.next_warning_at is not None and clock.next_warning_at <= now
    soon = warning or clock.warnings_sent > 0 or left <= clock.target_minutes * 0.25
    return make(f"{duration(left)}{unit} left{where}", "warning" if soon else "ok")


def for_tickets(ticket_ids: Sequence[int], *, now: datetime) -> dict[int, Badge]:
    """Each ticket's most urgent clock (an unanswered breach, then the next due): one query for
    the clocks, one for their policies' calendars."""
    clocks = list(
        SlaClock.objects.filter(ticket_id__in=ticket_ids)
        .exclude(state__in=[ClockState.ACHIEVED, ClockState.CANCELLED])
        .exclude(state=ClockState.BREACHED, stopped_at__isnull=False)
        .exclude(metric__in=MEASURED_ONLY)
    )
    calendars = _calendars(clocks)
    best: dict[int, Badge] = {}
    for clock in clocks:
        item = badge(clock, calendars.get(clock.policy_id, Calendar.always()), now=now)
        current = best.get(clock.ticket_id)
        if current is None or _key(item) < _key(current):
            best[clock.ticket_id] = item
    return best


def _key(item: Badge) -> tuple[int, float]:
    rank = {"breached": 0, "warning": 1, "ok": 2, "paused": 3, "achieved": 4}[item.tone]
    return rank, item.due_at.timestamp() if item.due_at else float("inf")


def for_ticket(ticket_id: int, *, now: datetime) -> list[Badge]:
    """Every clock of the ticket's latest cycles, metric by metric, for the ticket page."""
    clocks = list(SlaClock.objects.filter(ticket_id=ticket_id).order_by("metric", "cycle"))
    latest: Mapping[str, SlaClock] = {clock.metric: clock for clock in clocks}
    calendars = _calendars(latest.values())
    order = list(METRIC_NAMES)
    return [
        badge(clock, calendars.get(clock.policy_id, Calendar.always()), now=now)
        for clock in sorted(latest.values(), key=lambda c: order.index(c.metric))
        if clock.state != ClockState.CANCELLED
    ]
