"""Reading the index: `query()` gives the same hits in the same order on SQLite and PostgreSQL.

Matching is the database's own: FTS5 `MATCH` on SQLite, `tsvector @@ to_tsquery('simple', …)`
on PostgreSQL, over the same normalized words (see `search.text`), every query word required and
the last one also as a prefix.

Order, the same on both, chosen so that a page costs the same however many documents match:

    first the hits with every query word in the title (a prefix word counts when a title word
    starts with it), then the others; within each, by `SearchDocument.order_key` descending:
    contacts, organizations, then tickets, newest (highest id) first.

The order key is the FTS5 rowid, so SQLite reads matches in that order straight from the
full-text index and stops after a page (PostgreSQL walks the key's index or sorts the matches,
as its planner judges). Nothing ranks every match, nothing caps them: the cursor is (group,
order key) of the last hit, so pages never overlap or skip, however many there are. No count of
all matches is shown, as counting them would cost what ranking them did; "More results" says
whether another page exists.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import reduce
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from patron.core.errors import InvalidInput
from patron.people import permissions
from patron.people.models import Contact, Organization, Relationship
from patron.search.models import Kind, SearchDocument
from patron.search.text import Terms, highlight
from patron.tickets.models import Status, Ticket

if TYPE_CHECKING:
    from patron.people.permissions import AnyUser

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
# The two groups of hits, shown in this order.
IN_TITLE = 1
ELSEWHERE = 0
TICKET_ONLY_FILTERS = ("status", "assignee_id")


@dataclass(frozen=True)
class Filters:
    """Narrow the hits. Status and assignee apply to tickets only (so they exclude contacts and
    organizations); the date range is on tickets' `date_field` and on people's creation date;
    relationship is the ticket requester's, the contact's or the organization's."""

    status: str = ""
    assignee_id: int | None = None
    relationship: str = ""
    date_field: str = "updated"  # or "created"
    date_from: date | None = None
    date_to: date | None = None  # inclusive

    def __post_init__(self) -> None:
        if self.status and self.status not in Status.values:
            raise InvalidInput(f"{self.status!r} is not a ticket status.")
        if self.relationship and self.relationship not in Relationship.values:
            raise InvalidInput("Relationship must be client or customer.")
        if self.date_field not in ("created", "updated"):
            raise InvalidInput("Dates filter on created or updated.")

    @property
    def ticket_only(self) -> bool:
        return any(getattr(self, name) for name in TICKET_ONLY_FILTERS)


@dataclass(frozen=True)
class Hit:
    kind: str
    id: int
    title: str
    title_html: SafeString
    snippet_html: SafeString
    in_title: bool  # every query word is in the title: the first group of hits
    url: str = ""
    reference: str = ""  # "#1042" for a ticket
    status: str = ""  # a ticket's status

    @property
    def kind_label(self) -> str:
        return Kind(self.kind).label

    @property
    def status_label(self) -> str:
        return Status(self.status).label if self.status else ""


@dataclass(frozen=True)
class Page:
    hits: list[Hit] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True)
class _Position:
    group: int  # IN_TITLE or ELSEWHERE
    order_key: int

    def encode(self) -> str:
        raw = json.dumps([self.group, self.order_key], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> _Position:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            group, order_key = json.loads(raw)
            if group not in (IN_TITLE, ELSEWHERE) or not isinstance(order_key, int):
                raise ValueError
        except (ValueError, TypeError, binascii.Error):
            raise InvalidInput("That page of results has expired; search again.") from None
        return cls(group, order_key)


def query(
    text: str,
    *,
    user: AnyUser,
    kinds: Iterable[str] | None = None,
    filters: Filters | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page:
    """One page of what `user` may see that matches `text`, best first (see the module doc)."""
    terms = Terms.parse(text)
    if not terms or not permissions.is_agent(user):
        return Page()
    filters = filters or Filters()
    limit = max(1, min(limit, MAX_LIMIT))
    # The scope inside a CASE is no index's business: SQLite, which keeps no statistics, would
    # otherwise drive the query from the (kind, object_id) index, visiting every ticket's
    # document even for a word found in three of them, instead of the full-text index's order.
    in_scope = Case(
        When(_scope(user, kinds, filters), then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    documents = SearchDocument.objects.alias(in_scope=in_scope).filter(in_scope=1)
    after = _Position.decode(cursor) if cursor else None
    # Read limit + 1 rows, from the first group and then the second, to know if there is more.
    ranked: list[tuple[int, int, int]] = []  # (group, order key, document id)
    for group in (IN_TITLE, ELSEWHERE):
        if after is not None and group > after.group:
            continue  # that group was read to its end on earlier pages
        below = after.order_key if after is not None and group == after.group else None
        rows = _in_order(documents, terms, group, below)[: limit + 1 - len(ranked)]
        ranked += [(group, row["order_key"], row["id"]) for row in rows]
        if len(ranked) > limit:
            break
    page = ranked[:limit]
    texts = _rows([id for _, _, id in page])
    hits = [_hit(texts[id], terms, in_title=group == IN_TITLE) for group, _, id in page]
    more = len(ranked) > limit
    next_cursor = _Position(page[-1][0], page[-1][1]).encode() if more else None
    return Page(hits=hits, next_cursor=next_cursor)


def _in_order(
    documents: QuerySet[SearchDocument], terms: Terms, group: int, below: int | None
) -> QuerySet[SearchDocument, Any]:
    """One group's matches in order, after `below` (an order key) if given: a lazy queryset
    the caller slices, so the database reads no further than the page."""
    if connection.vendor == "sqlite":
        # Joined to the FTS5 cursor and ordered by its rowid (the order key), so FTS5 hands
        # the matches out in order and SQLite stops at the LIMIT; the key bound is on the
        # rowid too, so a later page starts where it left off instead of reading up to it.
        title = terms.fts5(title_only=True)
        where = ["search_fts.rowid = search_searchdocument.order_key", "search_fts MATCH %s"]
        params: list[object] = [title if group == IN_TITLE else f"({terms.fts5()}) NOT ({title})"]
        if below is not None:
            where.append("search_fts.rowid < %s")
            params.append(below)
        documents = documents.extra(
            tables=["search_fts"], where=where, params=params, order_by=["-search_fts.rowid"]
        )
        return documents.values("id", "order_key")
    if connection.vendor == "postgresql":
        from patron.search import postgres

        title = terms.tsquery(title_only=True)
        tsquery = title if group == IN_TITLE else f"({terms.tsquery()}) & !({title})"
        documents = postgres.matching(documents, tsquery)
    else:
        documents = _like(documents, terms, group)
    if below is not None:
        documents = documents.filter(order_key__lt=below)
    return documents.order_by("-order_key").values("id", "order_key")


def _rows(ids: list[int]) -> dict[int, dict[str, Any]]:
    """What a hit shows of each document, by id, with a ticket's number and status."""
    if not ids:
        return {}
    tickets = Ticket.objects.filter(pk=OuterRef("object_id"))
    rows = SearchDocument.objects.filter(pk__in=ids).annotate(
        ticket_number=Case(
            When(kind=Kind.TICKET, then=Subquery(tickets.values("number")[:1])),
            output_field=IntegerField(),
        ),
        ticket_status=Case(
            When(kind=Kind.TICKET, then=Subquery(tickets.values("status")[:1])),
            output_field=CharField(),
        ),
    )
    return {
        row["id"]: dict(row)
        for row in rows.values(
            "id", "kind", "object_id", "title", "body", "ticket_number", "ticket_status"
        )
    }


def _like(
    documents: QuerySet[SearchDocument], terms: Terms, group: int
) -> QuerySet[SearchDocument]:
    """Any other database: the same words and groups by LIKE, without an index."""

    def word(pattern: str, *columns: str) -> Q:
        return reduce(lambda a, b: a | b, [Q(**{f"{c}__contains": pattern}) for c in columns])

    patterns = [f" {w} " for w in terms.exact] + [f" {terms.prefix}"]
    anywhere = reduce(lambda a, b: a & b, [word(p, "title_terms", "body_terms") for p in patterns])
    in_title = reduce(lambda a, b: a & b, [word(p, "title_terms") for p in patterns])
    return documents.filter(in_title if group == IN_TITLE else anywhere & ~in_title)


def _scope(user: AnyUser, kinds: Iterable[str] | None, filters: Filters) -> Q:
    """Which documents may be hits: the kinds asked for, tickets `user` may see, the filters."""
    wanted = set(Kind.values) if kinds is None else set(kinds) & set(Kind.values)
    if filters.ticket_only:
        wanted &= {Kind.TICKET}
    scope = Q(pk__in=[])
    if Kind.TICKET in wanted:
        tickets = Ticket.objects.filter(merged_into__isnull=True)
        if filters.status:
            tickets = tickets.filter(status=filters.status)
        if filters.assignee_id is not None:
            tickets = tickets.filter(assignee_id=filters.assignee_id)
        if filters.relationship:
            tickets = tickets.filter(_relationship_is(filters.relationship, "requester__"))
        tickets = tickets.filter(_dates(filters, f"{filters.date_field}_at"))
        # EXISTS, one lookup per candidate, not IN (…), which SQLite would first fill with
        # the id of every ticket the user may see.
        visible = permissions.visible_tickets(user, tickets).filter(pk=OuterRef("object_id"))
        scope |= Q(Exists(visible), kind=Kind.TICKET)
    people_filtered = filters.relationship or filters.date_from or filters.date_to
    if Kind.CONTACT in wanted:
        if people_filtered:
            contacts = Contact.objects.filter(_dates(filters, "created_at"))
            if filters.relationship:
                contacts = contacts.filter(_relationship_is(filters.relationship, ""))
            scope |= Q(kind=Kind.CONTACT, object_id__in=contacts.values("pk"))
        else:
            scope |= Q(kind=Kind.CONTACT)
    if Kind.ORGANIZATION in wanted:
        if people_filtered:
            organizations = Organization.objects.filter(_dates(filters, "created_at"))
            if filters.relationship:
                organizations = organizations.filter(relationship=filters.relationship)
            scope |= Q(kind=Kind.ORGANIZATION, object_id__in=organizations.values("pk"))
        else:
            scope |= Q(kind=Kind.ORGANIZATION)
    return scope


def _relationship_is(relationship: str, contact: str) -> Q:
    """A contact's own relationship, else its organization's, else customer."""
    own = Q(**{f"{contact}relationship_override": relationship})
    inherited = Q(**{f"{contact}relationship_override": ""}) & Q(
        **{f"{contact}organization__relationship": relationship}
    )
    if relationship == Relationship.CUSTOMER:
        inherited |= Q(**{f"{contact}relationship_override": ""}) & Q(
            **{f"{contact}organization__isnull": True}
        )
    return own | inherited


def _dates(filters: Filters, column: str) -> Q:
    """From the start of `date_from` to the end of `date_to`, in the current time zone."""
    bounds = Q()
    zone = timezone.get_current_timezone()
    if filters.date_from is not None:
        bounds &= Q(**{f"{column}__gte": datetime.combine(filters.date_from, time(), zone)})
    if filters.date_to is not None:
        end = datetime.combine(filters.date_to + timedelta(days=1), time(), zone)
        bounds &= Q(**{f"{column}__lt": end})
    return bounds


def _hit(row: Mapping[str, Any], terms: Terms, *, in_title: bool) -> Hit:
    kind = str(row["kind"])
    object_id = int(row["object_id"])
    number = row["ticket_number"]
    return Hit(
        kind=kind,
        id=object_id,
        title=str(row["title"]),
        title_html=highlight(str(row["title"]), terms, whole=True),
        snippet_html=highlight(str(row["body"]), terms),
        in_title=in_title,
        url=_url(kind, object_id, number),
        reference=f"#{number}" if kind == Kind.TICKET and number is not None else "",
        status=str(row["ticket_status"] or ""),
    )


def _url(kind: str, object_id: int, number: object) -> str:
    try:
        if kind == Kind.TICKET:
            return reverse("ticket_detail", args=[number])
        if kind == Kind.CONTACT:
            return reverse("contact_detail", args=[object_id])
        return reverse("organization_detail", args=[object_id])
    except NoReverseMatch:  # the people pages are not wired in every build yet
        return ""
