"""PeopleEvents on the outbox: a change to a contact or an organization writes receipts with its
event, and the same delivery path and re-drive as for TicketEvents keep the search index
current. (A worker SIGKILLed mid-delivery: `test_worker_crash.py`.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User

from patron.core import consumers, events
from patron.core.events import LEASE, PEOPLE, REDRIVE_GRACE
from patron.core.models import DeliveryState, EventDelivery
from patron.people import services as people
from patron.people.models import Contact, PeopleEvent, PeopleEventDelivery
from patron.search import services as search
from patron.search.models import SearchDocument
from patron.tickets import merging
from tests import factories

SECOND = timedelta(seconds=1)


@pytest.fixture
def admin() -> User:
    return factories.agent(role="admin", password=None)


@pytest.fixture
def contact(now: datetime) -> Contact:
    """Jo Bloggs, in the search index."""
    contact = factories.contact(now=now, name="Jo Bloggs", email="jo@mail.example")
    events.deliver_pending(now=lambda: now)  # its creation, indexed through the outbox
    return contact


def indexed_title(contact: Contact) -> str | None:
    document = SearchDocument.objects.filter(kind="contact", object_id=contact.pk).first()
    return document.title if document else None


def rename(contact: Contact, name: str, *, actor: User, now: datetime) -> PeopleEventDelivery:
    """Change the contact's name; return the search receipt of the PeopleEvent it records."""
    people.update_contact(contact, actor=actor, now=now, name=name)
    event = PeopleEvent.objects.filter(contact=contact).latest("id")
    return PeopleEventDelivery.objects.get(event=event, consumer="search_index_people")


@pytest.mark.django_db
def test_a_people_event_writes_a_pending_receipt_per_consumer(
    now: datetime, contact: Contact, admin: User
) -> None:
    receipt = rename(contact, "Jo Smith", actor=admin, now=now)

    assert (receipt.state, receipt.attempts) == (DeliveryState.PENDING, 0)
    assert receipt.due_at == now + REDRIVE_GRACE
    assert not EventDelivery.objects.filter(consumer="search_index_people").exists()


@pytest.mark.django_db
def test_consumers_are_chosen_by_the_event_model_as_well_as_the_kind() -> None:
    # "merged" is a kind of both models: a ticket merge is not a contact merge.
    assert consumers.consumers_for(PeopleEvent.Kind.MERGED, model=PeopleEvent) == [
        "search_index_people"
    ]
    assert "search_index_people" not in consumers.consumers_for(PeopleEvent.Kind.MERGED)


@pytest.mark.django_db(transaction=True)
def test_the_receipt_is_delivered_after_commit_and_the_index_follows(
    now: datetime, contact: Contact, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:

    receipt = rename(contact, "Jo Smith", actor=admin, now=now)  # immediate task backend

    receipt.refresh_from_db()
    assert receipt.state == DeliveryState.DONE
    assert indexed_title(contact) == "Jo Smith"


@pytest.mark.django_db
def test_redrive_reindexes_a_contact_whose_delivery_was_lost(
    now: datetime,
    contact: Contact,
    admin: User,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=False):  # the process dies at commit
        receipt = rename(contact, "Jo Smith", actor=admin, now=now)
    assert indexed_title(contact) == "Jo Bloggs"

    early = events.redrive(now=now + REDRIVE_GRACE - SECOND)
    finished = events.redrive(now=now + REDRIVE_GRACE)

    receipt.refresh_from_db()
    assert (early, finished) == (0, 1)
    assert receipt.state == DeliveryState.DONE
    assert indexed_title(contact) == "Jo Smith"


@pytest.mark.django_db
def test_redrive_takes_over_a_people_receipt_whose_worker_died(
    now: datetime, contact: Contact, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    receipt = rename(contact, "Jo Smith", actor=admin, now=now)
    assert events.claim(receipt.pk, worker="dead", now=now, outbox=PEOPLE)

    assert events.redrive(now=now + LEASE - SECOND) == 0
    assert events.redrive(now=now + LEASE + SECOND) == 1

    receipt.refresh_from_db()
    assert (receipt.state, receipt.attempts, receipt.claimed_by[:8]) == (
        DeliveryState.DONE,
        2,
        "redrive-",
    )
    assert indexed_title(contact) == "Jo Smith"


@pytest.mark.django_db
def test_a_failing_people_consumer_backs_off_like_a_ticket_one(
    now: datetime, contact: Contact, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(event: PeopleEvent) -> None:
        raise ConnectionError("the index is down")

    search = consumers._BY_NAME["search_index_people"]
    monkeypatch.setitem(
        consumers._BY_NAME,
        "search_index_people",
        consumers.Consumer(name=search.name, kinds=search.kinds, handle=broken, model=PeopleEvent),
    )
    receipt = rename(contact, "Jo Smith", actor=admin, now=now)

    outcome = events.deliver(receipt.pk, now=now, outbox=PEOPLE)

    receipt.refresh_from_db()
    assert outcome == DeliveryState.PENDING
    assert receipt.due_at == now + events.BACKOFF_FIRST
    assert "the index is down" in receipt.last_error


@pytest.mark.django_db
def test_deliver_pending_drains_both_outboxes(
    now: datetime, contact: Contact, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    with events.enqueue_held():
        factories.ticket(now=now, requester=contact)
        rename(contact, "Jo Smith", actor=admin, now=now)
    organization = factories.organization(now=now, name="Initech")
    people.update_organization(organization, actor=admin, now=now, name="Initrode")
    pending = EventDelivery.objects.filter(state=DeliveryState.PENDING).count()
    pending += PeopleEventDelivery.objects.filter(state=DeliveryState.PENDING).count()
    reports: list[tuple[int, int]] = []

    finished = events.deliver_pending(
        now=lambda: now + SECOND, progress=lambda done, of: reports.append((done, of))
    )

    assert finished == pending == reports[-1][0] == reports[-1][1]
    assert not PeopleEventDelivery.objects.exclude(state=DeliveryState.DONE).exists()
    assert indexed_title(contact) == "Jo Smith"
    organization_document = SearchDocument.objects.get(
        kind="organization", object_id=organization.pk
    )
    assert organization_document.title == "Initrode"


@pytest.mark.django_db
def test_a_merged_contact_leaves_the_index_through_the_outbox(
    now: datetime, contact: Contact, admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = factories.contact(now=now, name="Joanna Bloggs")
    search.index_contacts([target.pk])

    merging.merge_contacts(contact, target, actor=admin, now=now)
    events.deliver_pending(now=lambda: now + SECOND)

    assert indexed_title(contact) is None
    assert indexed_title(target) == "Joanna Bloggs"


@pytest.mark.django_db
def test_a_new_contact_and_organization_are_indexed_through_their_creation_event(
    now: datetime,
) -> None:
    acme = people.create_organization(name="Acme", now=now, domains=("Acme.example",))
    ann = factories.contact(now=now, name="Ann Lee", email="ann@acme.example")
    created = PeopleEvent.objects.filter(kind=PeopleEvent.Kind.CREATED)
    assert list(created.order_by("id").values_list("organization", "contact")) == [
        (acme.pk, None),
        (None, ann.pk),
    ]
    assert created.get(organization=acme).data == {"domains": ["acme.example"]}
    assert indexed_title(ann) is None  # nothing is indexed until the outbox delivers

    events.deliver_pending(now=lambda: now + SECOND)

    assert indexed_title(ann) == "Ann Lee"
    assert SearchDocument.objects.filter(kind="organization", object_id=acme.pk).exists()
