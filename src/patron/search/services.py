"""Writing the index: one document per ticket, contact and organization, idempotent.

Tickets are kept current by the `search_index` event consumer (`patron.core.consumers`);
contacts and organizations when a ticket of theirs is created or changes requester, and by the
`search_index_people` consumer of their own PeopleEvents; everything in full by
`patron manage reindex`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Prefetch, QuerySet

from patron.people.models import Contact, ContactEmail, Organization, PeopleEvent
from patron.search.models import Kind, SearchDocument, order_key
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


def _ticket_document(pk: int, subject: str, number: int, bodies: Iterable[str]) -> Document:
    """Subject, then every message (internal notes too: only agents search)."""
    return Document(Kind.TICKET, pk, subject, "\n\n".join(bodies), str(number))


def _ticket_documents(ids: Iterable[int]) -> list[Document]:
    """The documents of these tickets (merged ones have none), read as plain rows: building a
    model instance per ticket and message would cost more than indexing them."""
    tickets = list(
        Ticket.objects.filter(pk__in=list(ids), merged_into__isnull=True).values_list(
            "pk", "subject", "number"
        )
    )
    bodies: dict[int, list[str]] = {pk: [] for pk, _, _ in tickets}
    messages = Message.objects.filter(ticket_id__in=list(bodies)).order_by(
        "ticket_id", "created_at", "id"
    )
    for ticket_id, body in messages.values_list("ticket_id", "body_text"):
        bodies[ticket_id].append(body)
    return [_ticket_document(pk, subject, number, bodies[pk]) for pk, subject, number in tickets]


def contact_document(contact: Contact) -> Document:
    emails = [email.address for email in contact.emails.all()]
    title = contact.name or (emails[0] if emails else f"Contact {contact.pk}")
    return Document(Kind.CONTACT, contact.pk, title, "\n".join([*emails, contact.phone]).strip())


def organization_document(organization: Organization) -> Document:
    domains = sorted(domain.domain for domain in organization.domains.all())
    return Document(Kind.ORGANIZATION, organization.pk, organization.name, "\n".join(domains))


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
    _index(Kind.TICKET, ticket_ids, _ticket_documents)


def index_contacts(contact_ids: Iterable[int]) -> None:
    _index(Kind.CONTACT, contact_ids, _documents(_contact_queryset(), contact_document))


def index_organizations(org_ids: Iterable[int]) -> None:
    _index(Kind.ORGANIZATION, org_ids, _documents(_organization_queryset(), organization_document))


def _documents[T: Any](
    queryset: QuerySet[T], build: Callable[[T], Document]
) -> Callable[[Iterable[int]], list[Document]]:
    """The documents of those of `queryset` with these ids."""
    return lambda ids: [build(item) for item in queryset.filter(pk__in=list(ids))]


def _index(
    kind: str, ids: Iterable[int], documents_of: Callable[[Iterable[int]], list[Document]]
) -> None:
    """(Re-)index these objects of one kind; those that no longer qualify leave the index."""
    wanted = set(ids)
    if not wanted:
        return
    documents = documents_of(wanted)
    _write(documents)
    gone = wanted - {document.object_id for document in documents}
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
            order_key=order_key(document.kind, document.object_id),
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


def index_after_people_event(event: PeopleEvent) -> None:
    """The `search_index_people` consumer: re-index the contact and the organization the event
    is on (a merged contact leaves the index)."""
    index_after_people_events([event])


def index_after_people_events(events: list[PeopleEvent]) -> None:
    """The `search_index_people` consumer for a batch: each contact and organization once."""
    index_contacts({event.contact_id for event in events if event.contact_id is not None})
    index_organizations(
        {event.organization_id for event in events if event.organization_id is not None}
    )


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
    sources: list[tuple[str, QuerySet[Any], Callable[[Iterable[int]], list[Document]]]] = [
        (Kind.TICKET, Ticket.objects.filter(merged_into__isnull=True), _ticket_documents),
        (
            Kind.CONTACT,
            _contact_queryset(),
            _documents(_contact_queryset(), contact_document),
        ),
        (
            Kind.ORGANIZATION,
            _organization_queryset(),
            _documents(_organization_queryset(), organization_document),
        ),
    ]
    counts: dict[str, int] = {}
    for kind, queryset, documents_of in sources:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True))
        done = 0
        with transaction.atomic():
            SearchDocument.objects.filter(kind=kind).delete()
            for batch in _batches(ids, REINDEX_BATCH):
                _write(documents_of(batch))
                done += len(batch)
                if progress is not None:
                    progress(kind, done, len(ids))
        counts[kind] = done
    return counts
