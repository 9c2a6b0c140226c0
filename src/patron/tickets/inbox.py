"""The agent inbox: built-in and saved views and their counts, sorting with cursor pagination.

A saved view's rule is a rule of the one condition language (`patron.conditions`); bulk actions
are in `bulk.py`, saving and deleting views in `saved_views.py`."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from patron import conditions
from patron.core.errors import InvalidInput, NotAllowed
from patron.people import permissions
from patron.tickets import queries
from patron.tickets.models import Priority, SavedView, Status, Ticket

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
    # Which count query counts it (`view_counts`): "queue" reads the ticket_counts index
    # alone; "requester" also reads each open ticket's requester; "solved" reads its own range.
    counted_in: str = "queue"


def _open() -> Q:
    return Q(status__in=OPEN_STATUSES)


# "Breaching soon": a clock due within the hour, or breached and still unanswered.
BREACHING_WINDOW = timedelta(hours=1)
UNSOLVED = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)


def _clock_due(now: datetime | None = None) -> Q:
    """The SLA clocks (`patron.sla`, read through the ticket's `sla_clocks`) that make a ticket
    urgent: running with a due time (within the window when `now` is given), or breached and
    not yet answered."""
    running = Q(sla_clocks__state="active", sla_clocks__due_at__isnull=False)
    if now is not None:
        running &= Q(sla_clocks__due_at__lte=now + BREACHING_WINDOW)
    return running | Q(sla_clocks__state="breached", sla_clocks__stopped_at__isnull=True)


def _breaching(now: datetime) -> Q:
    urgent = Ticket.objects.filter(_clock_due(now)).values("pk")
    return Q(status__in=UNSOLVED, pk__in=urgent)


def _next_due() -> Subquery:
    """A ticket's next SLA instant: the oldest unanswered breach, else the soonest due."""
    clocks = (
        Ticket.objects.filter(_clock_due(), pk=OuterRef("pk"))
        .order_by("sla_clocks__due_at")
        .values("sla_clocks__due_at")[:1]
    )
    return Subquery(clocks, output_field=DateTimeField())


def _relationship(value: str) -> Q:
    return conditions.to_q("ticket", {"all": [{"field": "relationship", "value": value}]})


BUILTIN_VIEWS: tuple[BuiltinView, ...] = (
    BuiltinView("mine", "My open", "-updated", lambda user, now: _open() & Q(assignee_id=user.pk)),
    BuiltinView("unassigned", "Unassigned", "created", lambda u, n: _open() & Q(assignee=None)),
    BuiltinView("all_open", "All open", "-updated", lambda user, now: _open()),
    BuiltinView(
        "clients",
        "Clients",
        "-updated",
        lambda u, n: _open() & _relationship("client"),
        counted_in="requester",
    ),
    BuiltinView(
        "customers",
        "Customers",
        "-updated",
        lambda u, n: _open() & _relationship("customer"),
        counted_in="requester",
    ),
    BuiltinView("pending", "Pending", "-updated", lambda u, n: Q(status=Status.PENDING)),
    BuiltinView("on_hold", "On hold", "-updated", lambda u, n: Q(status=Status.ON_HOLD)),
    BuiltinView(
        "solved",
        "Solved (last 7 days)",
        "-updated",
        lambda user, now: Q(status=Status.SOLVED, solved_at__gte=now - SOLVED_WINDOW),
        counted_in="solved",
    ),
    BuiltinView(
        "breaching", "Breaching soon", "sla", lambda user, now: _breaching(now), counted_in="sla"
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
                q = conditions.to_q("ticket", saved.rule)
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
    "sla": "sla_clocks__due_at",
}
NULLABLE_SORTS = {"organization", "assignee", "team"}
# The "sla" sort value of a ticket without a due time: after every real one.
NO_DUE = datetime(9999, 12, 31, tzinfo=UTC)
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
        if key in ("updated", "created", "sla"):
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
    if key == "sla":  # tickets without a running clock sort after every due time
        return Coalesce(_next_due(), Value(NO_DUE, output_field=DateTimeField()))
    if key in NULLABLE_SORTS:
        return Coalesce(F(path), Value(""))
    return F(path)


def sorted_tickets(tickets: QuerySet[Ticket], key: str) -> QuerySet[Ticket]:
    return tickets.annotate(sort_value=_sort_expression(key))


# Sorts an index on the ticket table orders (on SQLite and PostgreSQL alike), so the newest
# tickets by that sort are cheap to find; see `_window_edges`.
WINDOWED_SORTS = {"updated": "updated_at"}
# How many of the newest tickets to look among, in turn, before ordering the whole view: a
# view too sparse for these is small, and ordering it whole is cheap.
WINDOWS = (1000, 10_000)


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
    position = Q()
    if token:
        value, pk = decode_cursor(token, key)
        lookup = "lt" if walk_descending else "gt"
        position = Q(**{f"sort_value__{lookup}": value}) | Q(
            sort_value=value, **{f"id__{lookup}": pk}
        )
        tickets = tickets.filter(position)
    order = ["-sort_value", "-id"] if walk_descending else ["sort_value", "id"]
    rows = _first_rows(tickets, key, walk_descending, position, order, size + 1)
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


def _first_rows(
    tickets: QuerySet[Ticket],
    key: str,
    descending: bool,
    position: Q,
    order: list[str],
    count: int,
) -> list[Ticket]:
    """The first `count` of `tickets` in `order`, looked for among the newest tickets first.

    Ordering every ticket a view selects costs as much as the view is large (all open tickets,
    tens of thousands on a big desk), while its first page is nearly always among the most
    recently updated few thousand tickets of the desk. So: take the update time of the
    1,000th ticket (the first of WINDOWS) past the page's position, ask for the view's rows from it
    (an index on status and update time serves that), and if they fill the page they are
    exactly its first rows, since every other row of the view sorts after them; if not, try
    the next of WINDOWS, and at last ask without one."""
    if key not in WINDOWED_SORTS:
        return list(tickets.order_by(*order)[:count])
    for edge in _window_edges(key, descending, position):
        column = WINDOWED_SORTS[key]
        bounded = tickets.filter(**{f"{column}__{'gte' if descending else 'lte'}": edge})
        rows = list(bounded.order_by(*order)[:count])
        if len(rows) == count:
            return rows
    return list(tickets.order_by(*order)[:count])


def _window_edges(key: str, descending: bool, position: Q) -> Iterator[datetime]:
    """For each of WINDOWS, the sort value of that many-th ticket past `position` (merged,
    hidden or not), while there are that many."""
    column = WINDOWED_SORTS[key]
    every = sorted_tickets(Ticket.objects.all(), key).filter(position)
    walk = every.order_by(*([f"-{column}", "-id"] if descending else [column, "id"]))
    for window in WINDOWS:
        edge = next(iter(walk.values_list(column, flat=True)[window - 1 : window]), None)
        if edge is None:
            return
        yield edge


def list_tickets(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """What every row shows, fetched in a fixed number of queries."""
    return tickets.select_related(
        "requester__organization", "organization", "assignee", "team"
    ).prefetch_related("requester__emails")


# Counts


# What each count query reads: a superset of the tickets its views select, named by status so
# an index serves it ("solved" reads the Solved view's own filter, on (status, solved_at)).
QUEUE_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)
COUNT_SCOPES: dict[str, Callable[[AnyUser, datetime], Q]] = {
    "queue": lambda user, now: Q(status__in=QUEUE_STATUSES),
    "requester": lambda user, now: _open(),
    "solved": lambda user, now: BUILTIN_BY_KEY["solved"].filter(user, now),
    "sla": lambda user, now: _breaching(now),
}


def view_counts(user: AnyUser, saved: Sequence[SavedView], *, now: datetime) -> dict[str, int]:
    """{view key: count} for the built-ins and the given saved views.

    The built-ins are counted in three queries, each reading only the tickets of its statuses:
    the queue views (mine, unassigned, all open, pending, on hold) from the `ticket_counts`
    index alone, which holds every column they test; clients and customers, which need each
    open ticket's requester; and the Solved view's last seven days. One query for all of them
    read each ticket row and its requester (at 1,000,000 tickets, tens of thousands of open
    ones). Each saved view gets a COUNT of its own, its conditions as the WHERE clause."""
    tickets = base_tickets(user)
    counts: dict[str, int] = {}
    for group, scope in COUNT_SCOPES.items():
        views = [v for v in BUILTIN_VIEWS if v.counted_in == group and not v.disabled_reason]
        aggregates = {view.key: Count("id", filter=view.filter(user, now)) for view in views}
        if aggregates:
            found = tickets.filter(scope(user, now)).aggregate(**aggregates)
            counts.update({key: int(value or 0) for key, value in found.items()})
    counts.update(saved_view_counts(tickets, saved))
    return counts


def saved_view_counts(tickets: QuerySet[Ticket], saved: Sequence[SavedView]) -> dict[str, int]:
    """{view key: count} for saved views, a COUNT each over `tickets` (what the user may see)."""
    counts = {}
    for saved_view in saved:
        try:
            q = conditions.to_q("ticket", saved_view.rule)
        except InvalidInput:
            continue  # an edited-away field; the view page shows the reason
        counts[f"{SAVED_PREFIX}{saved_view.pk}"] = tickets.filter(q).count()
    return counts
