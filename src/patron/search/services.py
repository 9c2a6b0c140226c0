"""Writing the index: one document per ticket, contact and organization, idempotent.

Tickets are kept current by the `search_index` event consumer (`patron.core.consumers`);
contacts and organizations when a ticket of theirs is created or changes requester, and in
full by `patron manage reindex`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Prefetch, QuerySet

from patron.people.models import Contact, ContactEmail, Organization
from patron.search.models import Kind, SearchDocument
from patron.search.text import index_terms
from patron.tickets.models import EventKind, Message, Ticket, TicketEvent

REINDEX_BATCH = 500
MAX_TITLE = 300


@dataclass(frozen=True)
class Document:
    kind: str
    object_id: int
    title: str
    body: str
    extra_title_terms: str = ""  # words that count as title without being shown (a ticket number)


def ticket_document(ticket: Ticket) -> Document:
    """Subject, then every message (internal notes too: only agents search)."""
    body = "\n\n".join(message.body_text for message in ticket.messages.all())
    return Document(Kind.TICKET, ticket.pk, ticket.subject, body, str(ticket.number))


def contact_document(contact: Contact) -> Document:
    emails = [email.address for email in contact.emails.all()]
    title = contact.name or (emails[0] if emails else f"Contact {contact.pk}")
    return Document(Kind.CONTACT, contact.pk, title, "\n".join([*emails, contact.phone]).strip())


def organization_document(organization: Organization) -> Document:
    domains = sorted(domain.domain for domain in organization.domains.all())
    return Document(Kind.ORGANIZATION, organization.pk, organization.name, "\n".join(domains))


def _ticket_queryset() -> QuerySet[Ticket]:
    messages = Message.objects.only("ticket_id", "body_text", "created_at").order_by(
        "created_at", "id"
    )
    return Ticket.objects.filter(merged_into__isnull=True).prefetch_related(
        Prefetch("messages", queryset=messages)
    )


def _contact_queryset() -> QuerySet[Contact]:
    emails = ContactEmail.objects.order_by("-primary", "id")
    return Contact.objects.filter(merged_into__isnull=True).prefetch_related(
        Prefetch("emails", queryset=emails)
    )


def _organization_queryset() -> QuerySet[Organization]:
    return Organization.objects.prefetch_related("domains")


def index_ticket(ticket_id: int) -> None:
    """(Re-)index a ticket; a merged or deleted one leaves the index."""
    index_tickets([ticket_id])


def index_contact(contact_id: int) -> None:
    """(Re-)index a contact; a merged or deleted one leaves the index."""
    index_contacts([contact_id])


def index_organization(org_id: int) -> None:
    index_organizations([org_id])


def index_tickets(ticket_ids: Iterable[int]) -> None:
    _index(Kind.TICKET, ticket_ids, _ticket_queryset(), ticket_document)


def index_contacts(contact_ids: Iterable[int]) -> None:
    _index(Kind.CONTACT, contact_ids, _contact_queryset(), contact_document)


def index_organizations(org_ids: Iterable[int]) -> None:
    _index(Kind.ORGANIZATION, org_ids, _organization_queryset(), organization_document)


def _index[T: Any](
    kind: str, ids: Iterable[int], queryset: QuerySet[T], build: Callable[[T], Document]
) -> None:
    """(Re-)index these objects of one kind; those that no longer qualify leave the index."""
    wanted = set(ids)
    if not wanted:
        return
    found = list(queryset.filter(pk__in=wanted))
    _write([build(item) for item in found])
    gone = wanted - {item.pk for item in found}
    if gone:
        SearchDocument.objects.filter(kind=kind, object_id__in=gone).delete()


def remove(kind: str, id: int) -> None:
    SearchDocument.objects.filter(kind=kind, object_id=id).delete()


def _write(documents: list[Document]) -> None:
    """Insert or replace documents (by kind and object id) and refresh their vectors."""
    rows = [
        SearchDocument(
            kind=document.kind,
            object_id=document.object_id,
            title=document.title[:MAX_TITLE],
            body=document.body,
            title_terms=index_terms(document.title, document.extra_title_terms),
            body_terms=index_terms(document.body),
        )
        for document in documents
    ]
    if not rows:
        return
    with transaction.atomic():
        SearchDocument.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["kind", "object_id"],
            update_fields=["title", "body", "title_terms", "body_terms"],
        )
        if connection.vendor == "postgresql":
            # SQLite's FTS5 table follows by triggers; PostgreSQL's vector is computed here.
            from patron.search import postgres

            kinds = {row.kind for row in rows}
            postgres.refresh_vectors(
                SearchDocument.objects.filter(
                    kind__in=kinds, object_id__in=[row.object_id for row in rows]
                )
            )


def index_after_event(event: TicketEvent) -> None:
    """The `search_index` consumer: re-index the ticket (a merged one leaves the index); a new
    requester, or the one a ticket left, is indexed too, so contacts from mail are findable."""
    index_after_events([event])


def index_after_events(events: list[TicketEvent]) -> None:
    """The `search_index` consumer for a batch: each ticket and contact written once."""
    ticket_ids = {event.ticket_id for event in events}
    contact_ids: set[int] = set()
    created = [event.ticket_id for event in events if event.kind == EventKind.CREATED]
    organization_ids: set[int] = set()
    for row in Ticket.objects.filter(pk__in=created).values("requester_id", "organization_id"):
        contact_ids.add(row["requester_id"])
        if row["organization_id"]:
            organization_ids.add(row["organization_id"])
    for event in events:
        if event.kind == EventKind.REQUESTER_CHANGED:
            contact_ids |= {int(i) for i in (event.data.get("from"), event.data.get("to")) if i}
    index_tickets(ticket_ids)
    index_contacts(contact_ids)
    # An organization is indexed when it is created; this only fills a gap (say, after a restore).
    indexed = SearchDocument.objects.filter(
        kind=Kind.ORGANIZATION, object_id__in=organization_ids
    ).values_list("object_id", flat=True)
    index_organizations(organization_ids - set(indexed))


def _batches[T](items: Iterable[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def reindex_all(*, progress: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
    """Rebuild every document (for existing data, and after a restore); return counts by kind.

    `progress(kind, done, total)` is called after each batch."""
    sources: list[tuple[str, QuerySet[Any], Callable[[Any], Document]]] = [
        (Kind.TICKET, _ticket_queryset(), ticket_document),
        (Kind.CONTACT, _contact_queryset(), contact_document),
        (Kind.ORGANIZATION, _organization_queryset(), organization_document),
    ]
    counts: dict[str, int] = {}
    for kind, queryset, build in sources:
        total = queryset.count()
        done = 0
        with transaction.atomic():
            SearchDocument.objects.filter(kind=kind).delete()
            for batch in _batches(queryset.order_by("pk").iterator(REINDEX_BATCH), REINDEX_BATCH):
                _write([build(item) for item in batch])
                done += len(batch)
                if progress is not None:
                    progress(kind, done, total)
        counts[kind] = done
    return counts
