"""Live updates: what an agent's Server-Sent Events stream carries, as plain synchronous code.

The source is the TicketEvent table, whose ids only grow: a stream remembers the last id it has
sent, and a reconnecting browser hands it back as `Last-Event-ID`, so nothing is lost across a
dropped connection. `Session.poll()` reads what is new since then and returns the SSE frames to
send: `ticket` (one per visible event, with its id), `counts` (the inbox's view counts), `bell`
(the unread notification count) and `presence` (who else is on the ticket the page shows).

How a stream learns that something may be new (polling the table, or a Redis message) is the
async side's business, in `workspace/stream.py`; `core/wake.py` publishes that Redis message after
a commit when `REDIS_URL` is set.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Max, Q
from django.template.loader import render_to_string

from patron.core import clock
from patron.core.models import Presence
from patron.notifications import queries as notifications
from patron.notifications.models import Notification
from patron.people import permissions
from patron.tickets import sentences
from patron.tickets.models import Ticket, TicketEvent
from patron.workspace import presence

# Events read per poll; a stream far behind catches up over several polls.
BATCH = 200
# An id missing below the newest one may belong to a transaction still committing (PostgreSQL
# hands out ids before commit); it is looked for again until it appears or this many seconds pass
# (then it was rolled back).
GAP_PATIENCE_SECONDS = 10.0
# The inbox's counts are recomputed at most this often, however many events arrive.
COUNTS_INTERVAL_SECONDS = 1.0
# Presence expires by itself (an agent closes the tab): look again this often on a ticket page.
PRESENCE_INTERVAL_SECONDS = 5.0
# Only ids this close below the newest are taken for in-flight transactions; older holes are
# rolled-back ids, not worth watching.
MAX_GAP_SPAN = 100


def frame(event: str | None, data: str, *, event_id: int | None = None) -> str:
    """One SSE message. Each line of `data` becomes its own `data:` field; an `id:` line makes the
    browser remember it and send it back as Last-Event-ID when it reconnects."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in data.splitlines() or [""])
    return "\n".join(lines) + "\n\n"


def parse_cursor(*candidates: str | None) -> int | None:
    """The first candidate that is a non-negative integer (Last-Event-ID, then ?since=)."""
    for raw in candidates:
        if raw is None:
            continue
        raw = raw.strip()
        if raw.isdigit():
            return int(raw)
    return None


def latest_event_id() -> int:
    """The newest TicketEvent id, 0 if there is none: where a fresh page's stream starts."""
    return _newest_event()[0]


def signature() -> tuple[int, int, str]:
    """Changes whenever a stream may have something to send: a new event, a new notification or
    a presence heartbeat. The embedded mode polls this one cheap query for all streams."""
    newest = TicketEvent.objects.aggregate(newest=Max("id"))["newest"] or 0
    note = Notification.objects.aggregate(newest=Max("id"))["newest"] or 0
    seen = Presence.objects.aggregate(newest=Max("seen_at"))["newest"]
    return int(newest), int(note), seen.isoformat() if seen else ""


def payload(event: TicketEvent) -> dict[str, Any]:
    """What the browser needs to know about an event: which ticket, what kind, who, when.
    Pages fetch the changed part themselves, with the viewer's permissions."""
    data: dict[str, Any] = {
        "id": event.pk,
        "ticket": event.ticket.number,
        "subject": event.ticket.subject,
        "kind": event.kind,
        "actor": sentences.actor(event),
        "actor_id": event.actor_agent_id,
        "at": event.at.isoformat(),
    }
    if "public" in event.data:
        data["public"] = bool(event.data["public"])
    if "message_id" in event.data:
        data["message"] = event.data["message_id"]
    return data


@dataclass
class Session:
    """One browser tab's stream: the viewer, where it has read up to, and what it last sent.

    `ticket` is the ticket the page shows (presence is pushed for it); `counts` asks for the
    inbox's view counts. `cursor` is the last event id read; `gaps` are ids below it not yet seen,
    with when they were first missed.
    """

    user: User
    cursor: int
    ticket: Ticket | None = None
    counts: bool = False
    clock: Callable[[], float] = time.monotonic
    gaps: dict[int, float] = field(default_factory=dict)
    _unread: int | None = None
    _presence: str | None = None
    _presence_at: float = float("-inf")
    _counts_due: bool = True
    _counts_at: float = float("-inf")

    @property
    def resume_id(self) -> int:
        """The id to hand the browser: below any gap, so a reconnect reads the gap again (events
        the browser already has come twice; it drops them by id)."""
        return min(self.gaps) - 1 if self.gaps else self.cursor

    def seconds_until_due(self) -> float | None:
        """When this session wants polling again although nothing was announced."""
        now = self.clock()
        waits = []
        if self.gaps:
            waits.append(0.5)
        if self.counts and self._counts_due:
            waits.append(max(0.0, self._counts_at + COUNTS_INTERVAL_SECONDS - now))
        if self.ticket is not None:
            waits.append(max(0.0, self._presence_at + PRESENCE_INTERVAL_SECONDS - now))
        return min(waits) if waits else None

    def poll(self, *, now: datetime | None = None) -> list[str]:
        """Read what changed since the last poll and return the frames to send, in order."""
        return self.poll_events() + self.poll_extras(now=now)

    def poll_events(self) -> list[str]:
        """The new ticket events and the bell: cheap, and what a colleague waits for."""
        return self._ticket_frames() + self._bell_frames()

    def poll_extras(self, *, now: datetime | None = None) -> list[str]:
        """View counts and presence: sent after the events, so counting never delays them."""
        return self._counts_frames() + self._presence_frames(now or clock.now())

    def _ticket_frames(self) -> list[str]:
        ids = list(
            TicketEvent.objects.filter(Q(pk__gt=self.cursor) | Q(pk__in=list(self.gaps)))
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            self._expire_gaps()
            return []
        new_ids = [pk for pk in ids if pk > self.cursor]
        for pk in ids:
            self.gaps.pop(pk, None)
        if new_ids:
            start = max(self.cursor + 1, new_ids[-1] - MAX_GAP_SPAN)
            missing = set(range(start, new_ids[-1])) - set(new_ids)
            now = self.clock()
            for pk in missing:
                self.gaps.setdefault(pk, now)
            self.cursor = new_ids[-1]
        self._expire_gaps()
        visible = permissions.visible_tickets(self.user, Ticket.objects.all())
        events = (
            TicketEvent.objects.filter(pk__in=ids, ticket__in=visible)
            .select_related("ticket", "actor_agent", "actor_contact")
            .order_by("pk")
        )
        frames = [
            frame("ticket", json.dumps(payload(event)), event_id=self.resume_id) for event in events
        ]
        if events:
            self._counts_due = True
        if not frames:
            # Nothing this viewer may see: still move the browser's resume point forward.
            frames.append(f"id: {self.resume_id}\n\n")
        return frames

    def _expire_gaps(self) -> None:
        now = self.clock()
        for pk, since in list(self.gaps.items()):
            if now - since > GAP_PATIENCE_SECONDS:
                del self.gaps[pk]

    def _bell_frames(self) -> list[str]:
        unread = notifications.unread_count(self.user)
        if unread == self._unread:
            return []
        self._unread = unread
        return [frame("bell", json.dumps({"unread": unread}))]

    def _counts_frames(self) -> list[str]:
        if not (self.counts and self._counts_due):
            return []
        if self.clock() < self._counts_at + COUNTS_INTERVAL_SECONDS:
            return []
        counts = view_counts(self.user, now=clock.now())
        self._counts_due = False
        self._counts_at = self.clock()
        return [frame("counts", json.dumps(counts))]

    def _presence_frames(self, now: datetime) -> list[str]:
        if self.ticket is None:
            return []
        self._presence_at = self.clock()
        others = presence.others_on(self.ticket, viewer=self.user, now=now)
        html = render_to_string("tickets/_presence.html", {"others": others})
        if html == self._presence:
            return []
        self._presence = html
        return [frame("presence", html)]


# The built-in views' counts are the same for every agent who sees every ticket, except "My
# open": one computation serves all of a process's streams (50 agents would otherwise run the
# same aggregate 50 times per reply). An entry is reused only while the newest event is still the
# one it was counted after (its id and time: ids can be reused after deletions), and for a few
# seconds at most, since time moves views too ("Solved, last 7 days").
_SHARED_COUNTS: dict[str, tuple[tuple[int, str], float, dict[str, int]]] = {}
_SHARED_LOCK = threading.Lock()
SHARED_COUNTS_MAX_AGE_SECONDS = 5.0
PERSONAL_VIEWS = ("mine",)


def _newest_event() -> tuple[int, str]:
    row = TicketEvent.objects.order_by("-pk").values_list("pk", "at").first()
    return (int(row[0]), row[1].isoformat()) if row else (0, "")


def view_counts(user: User, *, now: datetime) -> dict[str, int]:
    """The inbox's counts for `user`, as of the newest committed event."""
    from patron.tickets import inbox

    saved = list(inbox.saved_views_for(user))
    if not permissions.sees_every_ticket(user):
        return inbox.view_counts(user, saved, now=now)
    with _SHARED_LOCK:
        newest = _newest_event()
        cached = _SHARED_COUNTS.get("all")
        fresh = time.monotonic() - SHARED_COUNTS_MAX_AGE_SECONDS
        if cached is None or cached[0] != newest or cached[1] < fresh:
            cached = (newest, time.monotonic(), inbox.view_counts(user, [], now=now))
            _SHARED_COUNTS["all"] = cached
    counts = {key: value for key, value in cached[2].items() if key not in PERSONAL_VIEWS}
    tickets = inbox.base_tickets(user)
    for key in PERSONAL_VIEWS:
        counts[key] = tickets.filter(inbox.BUILTIN_BY_KEY[key].filter(user, now)).count()
    counts.update(inbox.saved_view_counts(tickets, saved))
    return counts
