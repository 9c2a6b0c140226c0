"""Reading the index: `query()` gives the same hits in the same order on SQLite and PostgreSQL.

Matching is the database's own: FTS5 `MATCH` on SQLite, `tsvector @@ to_tsquery('simple', …)`
on PostgreSQL, over the same normalized words (see `search.text`), every query word required and
the last one also as a prefix.

Ranking is ours, computed in SQL the same way on both, because bm25() and ts_rank() disagree:

    score = Σ over query words: 2 if the word is in the title + 1 if it is in the body

(a prefix word counts when a word starts with it), highest first; ties by kind (contact,
organization, ticket), then newest object (id descending). The cursor is that sort key of the
last hit, so pages never overlap or skip, however many there are.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import reduce
from operator import add
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import Combinable
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from patron.core import permissions
from patron.core.errors import InvalidInput
from patron.people.models import Contact, Organization, Relationship
from patron.search.models import Kind, SearchDocument
from patron.search.text import Terms, highlight
from patron.tickets.models import Status, Ticket

if TYPE_CHECKING:
    from patron.core.permissions import AnyUser

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
TITLE_WEIGHT = 2
BODY_WEIGHT = 1
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
    score: int
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
    score: int
    kind: str
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.score, self.kind, self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> _Position:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            score, kind, id = json.loads(raw)
            if not (isinstance(score, int) and isinstance(kind, str) and isinstance(id, int)):
                raise ValueError
        except (ValueError, TypeError, binascii.Error):
            raise InvalidInput("That page of results has expired; search again.") from None
        return cls(score, kind, id)


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
    documents = _match(SearchDocument.objects.all(), terms)
    # The scope inside a CASE is no index's business: SQLite, which keeps no statistics, would
    # otherwise drive the query from the (kind, object_id) index, visiting every ticket's
    # document even for a word found in three of them (at 100,000 tickets: 170 ms).
    in_scope = Case(
        When(_scope(user, kinds, filters), then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    documents = documents.alias(in_scope=in_scope).filter(in_scope=1)
    documents = documents.annotate(score=_score(terms))
    if cursor:
        after = _Position.decode(cursor)
        documents = documents.filter(
            Q(score__lt=after.score)
            | Q(score=after.score, kind__gt=after.kind)
            | Q(score=after.score, kind=after.kind, object_id__lt=after.id)
        )
    # First rank every match by its sort key alone, then read texts and ticket fields for the
    # page's rows only: carrying them through the sort costs a lookup per match.
    ranked = list(
        documents.order_by("-score", "kind", "-object_id").values("id", "score")[: limit + 1]
    )
    rows = _rows([row["id"] for row in ranked[:limit]])
    hits = [_hit({**rows[row["id"]], "score": row["score"]}, terms) for row in ranked[:limit]]
    more = len(ranked) > limit
    next_cursor = _Position(hits[-1].score, hits[-1].kind, hits[-1].id).encode() if more else None
    return Page(hits=hits, next_cursor=next_cursor)


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


def _match(documents: QuerySet[SearchDocument], terms: Terms) -> QuerySet[SearchDocument]:
    if connection.vendor == "sqlite":
        # A join, not `id IN (SELECT rowid …)`: SQLite then reads the matches straight from the
        # full-text cursor instead of copying them into a temporary table first (a common word
        # matches most documents).
        return documents.extra(
            tables=["search_fts"],
            where=["search_fts.rowid = search_searchdocument.id", "search_fts MATCH %s"],
            params=[terms.fts5()],
        )
    if connection.vendor == "postgresql":
        from patron.search import postgres

        return postgres.matching(documents, terms.tsquery())
    # Any other database: the same words by LIKE, without an index.
    every_word = [
        Q(title_terms__contains=f" {w} ") | Q(body_terms__contains=f" {w} ") for w in terms.exact
    ]
    every_word.append(
        Q(title_terms__contains=f" {terms.prefix}") | Q(body_terms__contains=f" {terms.prefix}")
    )
    return documents.filter(reduce(lambda a, b: a & b, every_word))


def _score(terms: Terms) -> Combinable:
    """Sum of 2 per word in the title and 1 per word in the body: plain LIKE on both."""

    def weight(column: str, pattern: str, points: int) -> Case:
        return Case(
            When(**{f"{column}__contains": pattern}, then=Value(points)),
            default=Value(0),
            output_field=IntegerField(),
        )

    patterns = [f" {word} " for word in terms.exact] + [f" {terms.prefix}"]
    parts = [
        weight(column, pattern, points)
        for pattern in patterns
        for column, points in (("title_terms", TITLE_WEIGHT), ("body_terms", BODY_WEIGHT))
    ]
    return reduce(add, parts)


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
        visible = permissions.visible_tickets(user, tickets).values("pk")
        scope |= Q(kind=Kind.TICKET, object_id__in=visible)
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


def _hit(row: Mapping[str, Any], terms: Terms) -> Hit:
    kind = str(row["kind"])
    object_id = int(row["object_id"])
    number = row["ticket_number"]
    return Hit(
        kind=kind,
        id=object_id,
        title=str(row["title"]),
        title_html=highlight(str(row["title"]), terms, whole=True),
        snippet_html=highlight(str(row["body"]), terms),
        score=int(row["score"]),
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
