"""The agent inbox: built-in and saved views, their conditions and counts, sorting with cursor
pagination, and bulk actions that go through the per-ticket services."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce

from patron.core import permissions
from patron.core.errors import InvalidInput, NotAllowed, PatronError
from patron.people.models import Role, Team
from patron.people.segments import rule_q
from patron.tickets import queries, services
from patron.tickets.models import Channel, Priority, SavedView, Status, Ticket, TicketType

AnyUser = AbstractBaseUser | AnonymousUser

PAGE_SIZE = 50
OPEN_STATUSES = (Status.NEW, Status.OPEN)
SOLVED_WINDOW = timedelta(days=7)
DEFAULT_VIEW = "all_open"
SAVED_PREFIX = "saved-"

# Views


@dataclass(frozen=True)
class BuiltinView:
    key: str
    name: str
    sort: str
    filter: Callable[[AnyUser, datetime], Q] = field(compare=False)
    disabled_reason: str = ""


def _open() -> Q:
    return Q(status__in=OPEN_STATUSES)


def _relationship(value: str) -> Q:
    return rule_q("ticket", {"all": [{"field": "relationship", "op": "eq", "value": value}]})


BUILTIN_VIEWS: tuple[BuiltinView, ...] = (
    BuiltinView("mine", "My open", "-updated", lambda user, now: _open() & Q(assignee_id=user.pk)),
    BuiltinView("unassigned", "Unassigned", "created", lambda u, n: _open() & Q(assignee=None)),
    BuiltinView("all_open", "All open", "-updated", lambda user, now: _open()),
    BuiltinView("clients", "Clients", "-updated", lambda u, n: _open() & _relationship("client")),
    BuiltinView(
        "customers", "Customers", "-updated", lambda u, n: _open() & _relationship("customer")
    ),
    BuiltinView("pending", "Pending", "-updated", lambda u, n: Q(status=Status.PENDING)),
    BuiltinView("on_hold", "On hold", "-updated", lambda u, n: Q(status=Status.ON_HOLD)),
    BuiltinView(
        "solved",
        "Solved (last 7 days)",
        "-updated",
        lambda user, now: Q(status=Status.SOLVED, solved_at__gte=now - SOLVED_WINDOW),
    ),
    BuiltinView(
        "breaching",
        "Breaching soon",
        "-updated",
        lambda user, now: Q(pk__in=[]),
        disabled_reason="SLA policies come later.",
    ),
)
BUILTIN_BY_KEY = {view.key: view for view in BUILTIN_VIEWS}


@dataclass(frozen=True)
class ActiveView:
    """The view a page shows: a built-in or a saved one, resolved to a filter and a sort."""

    key: str
    name: str
    q: Q
    sort: str
    columns: tuple[str, ...]
    saved: SavedView | None = None
    error: str = ""


def base_tickets(user: AnyUser) -> QuerySet[Ticket]:
    """Every ticket this user may see, merged ones left out."""
    return permissions.visible_tickets(user, queries.unmerged(Ticket.objects.all()))


def saved_views_for(user: AnyUser) -> QuerySet[SavedView]:
    """The user's own views and those shared with a team they are in."""
    profile = permissions.profile_of(user)
    if profile is None:
        return SavedView.objects.none()
    return SavedView.objects.filter(
        Q(owner_id=user.pk) | Q(shared_with_team__agents=profile)
    ).distinct()


def check_edit_saved_view(user: AnyUser, view: SavedView) -> None:
    if view.owner_id != user.pk and not permissions.is_admin(user):
        raise NotAllowed(f"Only {view.owner} can change the view {view.name!r}.")


def resolve_view(user: AnyUser, key: str, *, now: datetime) -> ActiveView:
    """The built-in or saved view named by `key`; an unknown key is the default view."""
    if key.startswith(SAVED_PREFIX) and key.removeprefix(SAVED_PREFIX).isdigit():
        saved = saved_views_for(user).filter(pk=int(key.removeprefix(SAVED_PREFIX))).first()
        if saved is not None:
            error = ""
            try:
                q = ticket_conditions_q(saved.conditions)
            except InvalidInput as invalid:
                q, error = Q(pk__in=[]), f"This view shows nothing until it is fixed: {invalid}"
            return ActiveView(
                key=key,
                name=saved.name,
                q=q,
                error=error,
                sort=saved.sort if saved.sort.lstrip("-") in SORTS else "-updated",
                columns=tuple(c for c in saved.columns if c in COLUMNS) or DEFAULT_COLUMNS,
                saved=saved,
            )
    builtin = BUILTIN_BY_KEY.get(key) or BUILTIN_BY_KEY[DEFAULT_VIEW]
    return ActiveView(
        key=builtin.key,
        name=builtin.name,
        q=builtin.filter(user, now),
        sort=builtin.sort,
        columns=DEFAULT_COLUMNS,
    )


# Conditions

CONDITION_OPS = ("eq", "ne", "in", "contains", "before", "after")
TICKET_FIELDS = ("status", "priority", "type", "channel", "team", "assignee", "tag")
DATE_FIELDS = {"created": "created_at", "updated": "updated_at"}
REQUESTER_FIELDS = ("relationship", "tier", "organization")
CHOICES: dict[str, type[Status | Priority | TicketType | Channel]] = {
    "status": Status,
    "priority": Priority,
    "type": TicketType,
    "channel": Channel,
}
CONDITION_FIELDS = (*TICKET_FIELDS, *DATE_FIELDS, *REQUESTER_FIELDS, "custom.<key>")
NOBODY = "none"  # the value for "no assignee" / "no team"


def _values(value: object) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str) and "," in value:
        return [part.strip() for part in value.split(",") if part.strip()]
    return [value]


def _date(field_name: str, value: object) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(
            f"The {field_name} date must look like 2026-11-23, not {value!r}."
        ) from None


def _equals_q(field_name: str, value: object) -> Q:
    """One field equal to one value, for ticket fields."""
    if field_name in CHOICES:
        choices = CHOICES[field_name]
        if value not in choices.values:
            raise InvalidInput(
                f"{value!r} is not a {field_name}; use one of {', '.join(choices.values)}."
            )
        return Q(**{field_name: value})
    if field_name in ("team", "assignee"):
        if value in (None, "", NOBODY):
            return Q(**{f"{field_name}__isnull": True})
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return Q(**{f"{field_name}_id": int(value)})
        name = "team__name__iexact" if field_name == "team" else "assignee__username__iexact"
        return Q(**{name: value})
    if field_name == "tag":
        tagged = Ticket.tags.through.objects.filter(tag__name__iexact=str(value).strip())
        return Q(pk__in=tagged.values("ticket_id"))
    raise InvalidInput(f"The inbox cannot filter on {field_name!r}.")


def _condition_q(condition: Mapping[str, Any]) -> Q:
    if not isinstance(condition, Mapping):
        raise InvalidInput("Each condition needs a field, an operator and a value.")
    field_name = condition.get("field")
    op = condition.get("op", "eq")
    value = condition.get("value")
    if not isinstance(field_name, str) or not field_name:
        raise InvalidInput("Each condition needs a field.")
    if op not in CONDITION_OPS:
        raise InvalidInput(f"Unknown operator {op!r}; use one of {', '.join(CONDITION_OPS)}.")
    if field_name in DATE_FIELDS:
        path = DATE_FIELDS[field_name]
        lookup = {"eq": "date", "before": "date__lt", "after": "date__gt"}.get(op)
        if lookup is None:
            raise InvalidInput(f"Compare the {field_name} date with eq, before or after.")
        return Q(**{f"{path}__{lookup}": _date(field_name, value)})
    if op in ("before", "after"):
        raise InvalidInput(f"{op!r} only applies to the created and updated dates.")
    if field_name in REQUESTER_FIELDS or field_name.startswith("custom."):
        segment_op = op
        segment_value: object = _values(value) if op == "in" else value
        return rule_q(
            "ticket", {"all": [{"field": field_name, "op": segment_op, "value": segment_value}]}
        )
    if field_name not in TICKET_FIELDS:
        raise InvalidInput(
            f"The inbox cannot filter on {field_name!r}; use one of {', '.join(CONDITION_FIELDS)}."
        )
    if op == "contains":
        if field_name != "tag":
            raise InvalidInput(
                f"'contains' only applies to tags and text fields, not {field_name}."
            )
        tagged = Ticket.tags.through.objects.filter(tag__name__icontains=str(value).strip())
        return Q(pk__in=tagged.values("ticket_id"))
    if op == "in":
        result = Q(pk__in=[])
        for one in _values(value):
            result |= _equals_q(field_name, one)
        return result
    if op == "ne":
        return ~_equals_q(field_name, value)
    return _equals_q(field_name, value)


def ticket_conditions_q(conditions: object) -> Q:
    """The Q that selects tickets matching every condition ({field, op, value}); an invalid
    condition raises InvalidInput with a reason a person can read."""
    if not isinstance(conditions, list):
        raise InvalidInput("Conditions must be a list of {field, op, value}.")
    result = Q()
    for condition in conditions:
        result &= _condition_q(condition)
    return result


# Sorting and cursor pagination

# Column key → the ORM path it sorts by; text paths that may be empty sort as "".
SORTS: dict[str, str] = {
    "number": "number",
    "subject": "subject",
    "requester": "requester__name",
    "organization": "organization__name",
    "status": "status",
    "priority": "priority",
    "assignee": "assignee__username",
    "team": "team__name",
    "updated": "updated_at",
    "created": "created_at",
}
NULLABLE_SORTS = {"organization", "assignee", "team"}
COLUMNS: dict[str, str] = {
    "number": "#",
    "subject": "Subject",
    "requester": "Requester",
    "organization": "Organization",
    "status": "Status",
    "priority": "Priority",
    "assignee": "Assignee",
    "team": "Team",
    "updated": "Last update",
    "sla": "Next SLA",
}
DEFAULT_COLUMNS = tuple(COLUMNS)


def parse_sort(sort: str, default: str) -> tuple[str, bool]:
    """(column key, descending) from "-updated" style text; unknown keys fall back to default."""
    chosen = sort if sort.lstrip("-") in SORTS else default
    return chosen.lstrip("-"), chosen.startswith("-")


def encode_cursor(value: object, pk: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, key: str) -> tuple[object, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value, pk = json.loads(raw)
        if key in ("updated", "created"):
            value = datetime.fromisoformat(value)
        elif key == "number" or key in RANKED_SORTS:
            value = int(value)
        else:
            value = str(value)
        return value, int(pk)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise InvalidInput("That page link is damaged; start again from the first page.") from None


@dataclass
class Page:
    tickets: list[Ticket]
    newer: str | None  # cursor for the page before
    older: str | None  # cursor for the page after


# Status and priority sort in their working order, not alphabetically.
RANKED_SORTS: dict[str, tuple[str, ...]] = {
    "status": tuple(Status.values),
    "priority": tuple(Priority.values),
}


def _sort_expression(key: str) -> Any:
    path = SORTS[key]
    if key in RANKED_SORTS:
        ranks = [When(**{path: v}, then=Value(n)) for n, v in enumerate(RANKED_SORTS[key])]
        return Case(*ranks, default=Value(len(ranks)), output_field=IntegerField())
    if key in NULLABLE_SORTS:
        return Coalesce(F(path), Value(""))
    return F(path)


def sorted_tickets(tickets: QuerySet[Ticket], key: str) -> QuerySet[Ticket]:
    return tickets.annotate(sort_value=_sort_expression(key))


def paginate(
    tickets: QuerySet[Ticket],
    *,
    key: str,
    descending: bool,
    after: str = "",
    before: str = "",
    size: int = PAGE_SIZE,
) -> Page:
    """One page by keyset on (sort value, id): no offsets, so no cap and no drifting rows."""
    tickets = sorted_tickets(tickets, key)
    forward = not before
    token = after or before
    # Walking backwards (to newer rows) reverses the order, then the page is flipped back.
    walk_descending = descending if forward else not descending
    if token:
        value, pk = decode_cursor(token, key)
        lookup = "lt" if walk_descending else "gt"
        tickets = tickets.filter(
            Q(**{f"sort_value__{lookup}": value}) | Q(sort_value=value, **{f"id__{lookup}": pk})
        )
    order = ["-sort_value", "-id"] if walk_descending else ["sort_value", "id"]
    rows = list(tickets.order_by(*order)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    if not rows:
        return Page(tickets=[], newer=None, older=None)
    first, last = rows[0], rows[-1]
    first_cursor = encode_cursor(first.sort_value, first.pk)  # type: ignore[attr-defined]
    last_cursor = encode_cursor(last.sort_value, last.pk)  # type: ignore[attr-defined]
    if forward:
        return Page(
            rows, newer=first_cursor if after else None, older=last_cursor if more else None
        )
    return Page(rows, newer=first_cursor if more else None, older=last_cursor)


def list_tickets(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """What every row shows, fetched in a fixed number of queries."""
    return tickets.select_related(
        "requester__organization", "organization", "assignee", "team"
    ).prefetch_related("requester__emails")


# Counts


def view_counts(user: AnyUser, saved: Sequence[SavedView], *, now: datetime) -> dict[str, int]:
    """{view key: count} for the built-ins and the given saved views.

    The built-ins are counted in one query that reads only the tickets some built-in selects
    (they all name their statuses, so an index serves it); each saved view gets a COUNT of its
    own, its conditions as the WHERE clause. One aggregate over every ticket, a filtered COUNT
    per view, read all of them: at 100,000 tickets that cost more than the rest of the page."""
    tickets = base_tickets(user)
    aggregates: dict[str, Count] = {}
    any_builtin = Q(pk__in=[])
    for view in BUILTIN_VIEWS:
        if not view.disabled_reason:
            q = view.filter(user, now)
            aggregates[view.key] = Count("id", filter=q)
            any_builtin |= q
    counts = {
        key: int(value or 0)
        for key, value in tickets.filter(any_builtin).aggregate(**aggregates).items()
    }
    counts.update(saved_view_counts(tickets, saved))
    return counts


def saved_view_counts(tickets: QuerySet[Ticket], saved: Sequence[SavedView]) -> dict[str, int]:
    """{view key: count} for saved views, a COUNT each over `tickets` (what the user may see)."""
    counts = {}
    for saved_view in saved:
        try:
            q = ticket_conditions_q(saved_view.conditions)
        except InvalidInput:
            continue  # an edited-away field; the view page shows the reason
        counts[f"{SAVED_PREFIX}{saved_view.pk}"] = tickets.filter(q).count()
    return counts


# Bulk actions

BULK_ACTIONS = ("assign", "team", "status", "priority", "add_tags", "remove_tags", "merge", "spam")
BULK_PARAMS = ("assignee", "team", "status", "priority", "tags", "merge_into")


@dataclass
class BulkResult:
    updated: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def message(self) -> str:
        text = f"{len(self.updated)} updated"
        if self.skipped:
            reasons = "; ".join(reason.rstrip(".") for _, reason in self.skipped)
            text += f", {len(self.skipped)} skipped: {reasons}"
        return text + "."


def _tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.replace(",", " ").split() if tag.strip()]


def _agent(value: str, *, actor: User) -> User | None:
    if value == "me":
        return actor
    if value in ("", NOBODY):
        return None
    agent = User.objects.filter(pk=int(value) if value.isdigit() else -1).first()
    if agent is None or not permissions.is_agent(agent):
        raise InvalidInput(f"There is no agent {value!r} to assign to.")
    return agent


def _team(value: str) -> Team | None:
    if value in ("", NOBODY):
        return None
    team = Team.objects.filter(pk=int(value) if value.isdigit() else -1).first()
    if team is None:
        raise InvalidInput(f"There is no team {value!r}.")
    return team


def bulk_apply(
    numbers: Iterable[int],
    action: str,
    params: Mapping[str, str],
    *,
    actor: User,
    now: datetime,
) -> BulkResult:
    """Apply one action to each ticket through its service, so every change checks permission
    and writes its event; a refusal skips that ticket with its reason and the rest go on."""
    if action not in BULK_ACTIONS:
        raise InvalidInput(f"Unknown bulk action {action!r}.")
    wanted = sorted(set(numbers))
    if not wanted:
        raise InvalidInput("Select at least one ticket first.")
    tickets = {t.number: t for t in base_tickets(actor).filter(number__in=wanted)}
    result = BulkResult()
    do: Callable[[Ticket], object]
    if action == "assign":
        assignee = _agent(params.get("assignee", ""), actor=actor)
        do = lambda t: services.assign(t, assignee, actor=actor, now=now)  # noqa: E731
    elif action == "team":
        team = _team(params.get("team", ""))
        do = lambda t: services.change_team(t, team, actor=actor, now=now)  # noqa: E731
    elif action == "status":
        status = params.get("status", "")
        do = lambda t: services.change_status(t, status, actor=actor, now=now)  # noqa: E731
    elif action == "priority":
        priority = params.get("priority", "")
        do = lambda t: services.change_priority(t, priority, actor=actor, now=now)  # noqa: E731
    elif action in ("add_tags", "remove_tags"):
        given = {tag.lower() for tag in _tags(params.get("tags", ""))}
        if not given:
            raise InvalidInput("Write the tags to add or remove.")

        def do(t: Ticket) -> None:
            current = set(t.tags.values_list("name", flat=True))
            new = current | given if action == "add_tags" else current - given
            services.set_tags(t, new, actor=actor, now=now)

    elif action == "merge":
        into = params.get("merge_into", "").strip().lstrip("#")
        target = base_tickets(actor).filter(number=int(into) if into.isdigit() else -1).first()
        if target is None:
            raise InvalidInput("Choose the ticket number to merge the selected tickets into.")
        do = lambda t: services.merge_tickets(t, target, actor=actor, now=now)  # noqa: E731
        wanted = [n for n in wanted if n != target.number]
    else:
        do = lambda t: services.mark_spam(t, actor=actor, now=now)  # noqa: E731
    for number in wanted:
        ticket = tickets.get(number)
        if ticket is None:
            result.skipped.append((number, f"#{number} is not a ticket you can see"))
            continue
        try:
            do(ticket)
        except (PatronError, PermissionDenied) as error:
            result.skipped.append((number, str(error)))
        else:
            result.updated.append(number)
    return result


def may_bulk_change(user: AnyUser) -> bool:
    """Whether to offer the bulk-action bar at all (the services still check every ticket)."""
    return permissions.role_of(user) not in (None, Role.LIGHT_AGENT)
