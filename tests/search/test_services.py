"""Keeping the index current: the event consumer, merges, people, and `patron manage reindex`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser, User
from django.core.management import call_command

from patron.people import services as people
from patron.search.models import SearchDocument
from patron.search.queries import query
from patron.search.services import index_contact, index_organization, remove
from patron.tickets import merging
from patron.tickets import services as tickets
from tests import factories

Capture = Callable[..., Any]


def found(text: str, user: AbstractBaseUser) -> list[tuple[str, int]]:
    return [(hit.kind, hit.id) for hit in query(text, user=user).hits]


def test_a_new_ticket_is_indexed_after_commit(
    now: datetime, admin: User, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ticket = factories.ticket(now=now, subject="Gazebo collapsed", body="In the wind.")
    assert found("gazebo", admin) == [("ticket", ticket.pk)]


def test_the_index_is_updated_after_a_reply(
    now: datetime, admin: User, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ticket = factories.ticket(now=now, subject="Gazebo collapsed", body="In the wind.")
    assert found("kumquat", admin) == []
    with django_capture_on_commit_callbacks(execute=True):
        tickets.reply(ticket, author=admin, body="Try the kumquat fix.", public=False, now=now)
    assert found("kumquat", admin) == [("ticket", ticket.pk)]


def test_a_merged_ticket_is_no_longer_found(
    now: datetime, admin: User, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        source = factories.ticket(now=now, subject="Marmalade spill", body="Sticky floor.")
        target = factories.ticket(now=now, subject="Kitchen issue", body="Broken tap.")
    with django_capture_on_commit_callbacks(execute=True):
        merging.merge_tickets(source, target, actor=admin, now=now + timedelta(minutes=5))
    assert found("marmalade", admin) == []
    assert found("sticky", admin) == [("ticket", target.pk)]  # its messages moved over


def test_the_requester_of_a_new_ticket_becomes_findable(
    now: datetime, admin: User, django_capture_on_commit_callbacks: Capture
) -> None:
    organization = factories.organization(now=now, name="Hollyhock Ltd", domains=("holly.example",))
    with django_capture_on_commit_callbacks(execute=True):
        contact = people.get_or_create_contact(email="wren@holly.example", now=now, name="Wren")
        factories.ticket(now=now, requester=contact, subject="Hello", body="Hi.")
    assert found("wren", admin) == [("contact", contact.pk)]
    assert found("hollyhock", admin) == [("organization", organization.pk)]


def test_merged_contacts_leave_the_index(
    now: datetime, admin: User, django_capture_on_commit_callbacks: Capture
) -> None:
    source = factories.contact(now=now, name="Ottoline Brisk", email="ob@mail.example")
    target = factories.contact(now=now, name="Ottoline Brisk-Hart", email="obh@mail.example")
    with django_capture_on_commit_callbacks(execute=True):
        factories.ticket(now=now, requester=source, subject="Hello", body="Hi.")
    with django_capture_on_commit_callbacks(execute=True):
        merging.merge_contacts(source, target, actor=admin, now=now)
    assert found("ottoline", admin) == [("contact", target.pk)]
    assert found("ob", admin) == [("contact", target.pk)]  # the address moved with the merge


def test_indexing_twice_keeps_one_document(now: datetime, admin: User) -> None:
    organization = factories.organization(now=now, name="Juniper Works")
    index_organization(organization.pk)
    index_organization(organization.pk)
    assert (
        SearchDocument.objects.filter(object_id=organization.pk, kind="organization").count() == 1
    )
    assert found("juniper", admin) == [("organization", organization.pk)]


def test_a_changed_contact_is_found_by_its_new_name_only(now: datetime, admin: User) -> None:
    contact = factories.contact(now=now, name="Pelham Grove")
    index_contact(contact.pk)
    contact.name = "Pelham Stone"
    contact.save()
    index_contact(contact.pk)
    assert found("grove", admin) == []
    assert found("stone", admin) == [("contact", contact.pk)]


def test_a_removed_document_is_not_found(now: datetime, admin: User) -> None:
    organization = factories.organization(now=now, name="Juniper Works")
    index_organization(organization.pk)
    remove("organization", organization.pk)
    assert found("juniper", admin) == []


def test_reindex_builds_the_index_for_existing_data(now: datetime, admin: User) -> None:
    ticket = factories.ticket(now=now, subject="Quince delivery", body="Late again.")
    contact = factories.contact(now=now, name="Quincy Adams")
    SearchDocument.objects.all().delete()
    call_command("reindex", verbosity=0)
    assert set(found("quinc", admin)) == {("ticket", ticket.pk), ("contact", contact.pk)}


@pytest.mark.django_db
def test_it_indexes_a_contact_created_without_a_ticket(
    now: datetime, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        people.create_contact(email="zanzibar@mail.example", name="Quill Zanzibar", now=now)

    assert SearchDocument.objects.filter(kind="contact", title__icontains="Zanzibar").exists()
