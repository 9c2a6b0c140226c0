"""Words for ticket events, written once: one small function per `EventKind`.

An event reads two ways. On the ticket's own page (the timeline) the ticket goes without
saying: "Sam Ito changed priority from normal to high". Told to someone elsewhere (the bell,
the digest) the sentence names the ticket, and says "you" when the reader is the one it is
about: "Sam Ito assigned #1042 Refund to you". Both forms of a kind sit in its one function;
why a reader was told at all (a mention, a client waiting) is the notifications app's to say.

Pure: no queries. Whoever shows many events looks the names up once (`Names`, see
`patron.tickets.queries.timeline`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import wraps

from django.contrib.auth.models import User

from patron.tickets.models import AuthorKind, EventKind, TicketEvent


@dataclass(frozen=True)
class Names:
    """What ids in an event's data are called: agents, teams, and custom ticket fields."""

    users: Mapping[int, str] = field(default_factory=dict)
    teams: Mapping[int, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


NO_NAMES = Names()


def person(user: User | None, *, missing: str) -> str:
    """A person in a sentence: their full name, else their username; `missing` for nobody."""
    if user is None:
        return missing
    return user.get_full_name() or user.get_username()


def actor(event: TicketEvent) -> str:
    """Who did it: the agent, the contact, or the named system actor."""
    return event.actor_label()


def describe(event: TicketEvent, *, names: Names = NO_NAMES) -> str:
    """The event on its ticket's own page: "Sam Ito changed priority from normal to high"."""
    return SENTENCES.get(event.kind, _other)(_Say(event, actor(event), names))


def tell(event: TicketEvent, *, about: str, to_you: bool = False) -> str:
    """The event told to someone elsewhere, naming the ticket (`about`, "#1042 Refund");
    `to_you` when the reader is the person it is about: "Sam Ito assigned #1042 Refund to you"."""
    return SENTENCES.get(event.kind, _other)(_Say(event, actor(event), NO_NAMES, about, to_you))


@dataclass(frozen=True)
class _Say:
    event: TicketEvent
    actor: str
    names: Names
    about: str | None = None  # the ticket in words when told elsewhere; None on its own page
    to_you: bool = False

    @property
    def data(self) -> dict[str, object]:
        data: dict[str, object] = self.event.data
        return data


Sentence = Callable[[_Say], str]


def _other(say: _Say) -> str:
    """What an event without words of its own elsewhere says."""
    kind = say.event.get_kind_display()
    if say.about is None:
        return f"{say.actor}: {kind}"
    return f"{say.actor}: {kind.lower()} on {say.about}"


def _on_page_only(sentence: Sentence) -> Sentence:
    """A kind told elsewhere in the generic words only."""

    @wraps(sentence)
    def either(say: _Say) -> str:
        return sentence(say) if say.about is None else _other(say)

    return either


def _user(say: _Say, key: str, missing: str) -> str:
    value = say.data.get(key)
    return say.names.users.get(value, missing) if isinstance(value, int) and value else missing


def _value(say: _Say, key: str, field_name: str) -> str:
    value = say.data.get(key)
    if value in (None, "", []):
        return "nothing"
    if field_name == "team" and isinstance(value, int):
        return say.names.teams.get(value, f"team {value}")
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _field_label(field_name: str, labels: Mapping[str, str]) -> str:
    if field_name.startswith("custom."):
        key = field_name.removeprefix("custom.")
        return labels.get(key, key)
    return field_name


def created(say: _Say) -> str:
    if say.about is not None:
        return f"{say.actor} opened {say.about}"
    split_from = say.data.get("split_from")
    origin = f" (split from #{split_from})" if split_from else ""
    return f"{say.actor} created the ticket{origin}"


def message_added(say: _Say) -> str:
    public = say.data.get("public", True)
    if say.about is not None:
        verb = "replied on" if public else "added a note on"
        return f"{say.actor} {verb} {say.about}"
    what = "a public reply" if public else "an internal note"
    if say.event.actor_kind == AuthorKind.CONTACT:
        what = "a message"
    return f"{say.actor} added {what}"


def field_changed(say: _Say) -> str:
    if say.about is not None:
        changed = str(say.data.get("field", "a field")).replace("_", " ")
        return f"{say.actor} changed the {changed} of {say.about}"
    field_name = str(say.data.get("field", ""))
    old, new = _value(say, "from", field_name), _value(say, "to", field_name)
    label = _field_label(field_name, say.names.labels)
    return f"{say.actor} changed {label} from {old} to {new}"


def assigned(say: _Say) -> str:
    if say.about is not None:
        if say.to_you:
            return f"{say.actor} assigned {say.about} to you"
        return f"{say.actor} reassigned {say.about}"
    old, new = _user(say, "from", "nobody"), _user(say, "to", "nobody")
    return f"{say.actor} assigned the ticket from {old} to {new}"


def _following(say: _Say, did: str, do: str) -> str:
    if say.data.get("user") == say.event.actor_agent_id:
        return f"{say.actor} {did} the ticket"
    whom = _user(say, "user", "someone")
    return f"{say.actor} made {whom} {do} the ticket"


@_on_page_only
def followed(say: _Say) -> str:
    return _following(say, "started following", "follow")


@_on_page_only
def unfollowed(say: _Say) -> str:
    return _following(say, "stopped following", "stop following")


@_on_page_only
def merged(say: _Say) -> str:
    return f"{say.actor} merged this ticket into #{say.data.get('into')}"


@_on_page_only
def merged_in(say: _Say) -> str:
    return f"{say.actor} merged #{say.data.get('source')} into this ticket"


@_on_page_only
def split_off(say: _Say) -> str:
    return f"{say.actor} split a message off into #{say.data.get('into')}"


@_on_page_only
def requester_changed(say: _Say) -> str:
    return f"{say.actor} changed the requester"


@_on_page_only
def mail_bounced(say: _Say) -> str:
    """Written by `patron.mail.outbound` from a delivery report."""
    what = "The acknowledgement" if say.data.get("automatic") else "The reply"
    to = say.data.get("recipient") or "the recipient"
    reason = " ".join(str(say.data.get(k) or "") for k in ("status", "diagnostic")).strip()
    if say.data.get("delayed"):
        return f"{what} to {to} is delayed, the receiving server still tries: {reason}"
    return f"{what} to {to} bounced: {reason or 'no reason given'}"


@_on_page_only
def automatic_reply_received(say: _Say) -> str:
    """An out-of-office or other automatic reply (`services.add_customer_message`)."""
    return f"{say.actor} sent an automatic reply"


def _metric(say: _Say) -> str:
    """An SLA metric in words ("first reply"), with its cycle when there were several."""
    words = {"agent_work": "agent work time", "requester_wait": "requester wait time"}
    metric = str(say.data.get("metric", "a target"))
    cycle = say.data.get("cycle")
    name = words.get(metric, metric.replace("_", " "))
    return f"{name} #{cycle}" if isinstance(cycle, int) and cycle > 1 else name


def _on(say: _Say) -> str:
    return f" on {say.about}" if say.about is not None else ""


def sla_warning(say: _Say) -> str:
    """Written by `patron.sla.services` when a clock reaches a warning level."""
    left = say.data.get("remaining_minutes")
    within = f" in {_minutes(left)}" if isinstance(left, int | float) else " soon"
    return f"SLA warning: {_metric(say)} is due{within}{_on(say)}"


def sla_breached(say: _Say) -> str:
    due = _clock_time(say.data.get("breached_at"))
    return f"SLA breached: {_metric(say)} was due at {due}{_on(say)}"


@_on_page_only
def sla_paused(say: _Say) -> str:
    return f"The {_metric(say)} clock paused"


@_on_page_only
def sla_resumed(say: _Say) -> str:
    return f"The {_metric(say)} clock resumed"


@_on_page_only
def sla_policy_changed(say: _Say) -> str:
    new, old = say.data.get("to"), say.data.get("from")
    if new is None:
        return f"No SLA policy applies any more (was {old})"
    return f"SLA policy {new} applies" + (f" (was {old})" if old else "")


def _minutes(value: float) -> str:
    minutes = max(0, round(value))
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


def _clock_time(value: object) -> str:
    """An ISO instant from an event's data as "2026-11-23 17:00 UTC"."""
    if not isinstance(value, str):
        return "its due time"
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return value
    return f"{instant.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


SENTENCES: dict[str, Sentence] = {
    EventKind.CREATED: created,
    EventKind.MESSAGE_ADDED: message_added,
    EventKind.FIELD_CHANGED: field_changed,
    EventKind.ASSIGNED: assigned,
    EventKind.FOLLOWED: followed,
    EventKind.UNFOLLOWED: unfollowed,
    EventKind.MERGED: merged,
    EventKind.MERGED_IN: merged_in,
    EventKind.SPLIT_OFF: split_off,
    EventKind.REQUESTER_CHANGED: requester_changed,
    EventKind.MAIL_BOUNCED: mail_bounced,
    EventKind.AUTOMATIC_REPLY_RECEIVED: automatic_reply_received,
    EventKind.SLA_WARNING: sla_warning,
    EventKind.SLA_BREACHED: sla_breached,
    EventKind.SLA_PAUSED: sla_paused,
    EventKind.SLA_RESUMED: sla_resumed,
    EventKind.SLA_POLICY_CHANGED: sla_policy_changed,
}
