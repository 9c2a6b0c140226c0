"""A small desk with distinct words, indexed; the same corpus on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User

from patron.people.models import Contact, Role
from patron.search.services import reindex_all
from tests import factories


@pytest.fixture
def admin(db: None) -> User:
    return factories.agent(Role.ADMIN)


@pytest.fixture
def requester(now: datetime) -> Contact:
    return factories.contact(now=now, email="tobias@mail.example", name="Tobias Quillfeather")


@pytest.fixture
def corpus(db: None, now: datetime, requester: Contact) -> dict[str, tuple[str, int]]:
    """Name → (kind, id) of every document; created in this order (ties rank newest first)."""
    later = iter(now + timedelta(minutes=n) for n in range(100))
    organizations = {
        "O1": factories.organization(now=now, name="Zephyr Logistics", domains=("zephyr.example",)),
        "O2": factories.organization(
            now=now, name="Quokka Analytics", domains=("quokka.example",), relationship="client"
        ),
        "O3": factories.organization(now=now, name="Café Lumière", domains=("lumiere.example",)),
    }
    contacts = {
        "C1": factories.contact(
            now=now,
            email="marisol@quokka.example",
            name="Marisol Zephyrine",
            phone="+44 20 7946 0001",
        ),
        "C2": requester,
    }
    subjects_and_bodies = {
        "T1": ("Zephyr shipment delayed", "The pallet left Rotterdam late."),
        "T2": ("Invoice question", "Zephyr invoice shows a duplicate pallet charge."),
        "T3": ("Pallet damaged", "Our pallet arrived crushed; zephyr courier refused."),
        "T4": ("Password reset loop", "Reset email never arrives for quokka users."),
        "T5": ("Quokka dashboard blank", "Analytics dashboard shows nothing since Tuesday."),
        "T6": ("Crème brûlée recipe request", "Please send the café menu."),
        "T7": ("Menu translation", "The café menu needs German."),
        "T8": ("Refund for order 4411", "Order 4411 was returned."),
    }
    tickets = {
        name: factories.ticket(now=next(later), requester=requester, subject=subject, body=body)
        for name, (subject, body) in subjects_and_bodies.items()
    }
    reindex_all()
    return {
        **{name: ("organization", o.pk) for name, o in organizations.items()},
        **{name: ("contact", c.pk) for name, c in contacts.items()},
        **{name: ("ticket", t.pk) for name, t in tickets.items()},
    }
