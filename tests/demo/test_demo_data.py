"""The demo loader: realistic tickets for clients and customers, deterministic, loaded once."""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources

import pytest

from patron.demo import corpus
from patron.demo.loader import is_loaded, load_demo
from patron.demo.plan import DEMO_DAYS, plan_demo
from patron.people.models import Contact, Organization, Relationship
from patron.tickets.models import AuthorKind, EventKind, Message, Ticket, TicketEvent

SMALL = 30


def test_it_plans_the_same_desk_from_the_same_seed(now: datetime) -> None:
    assert plan_demo(now=now, tickets=SMALL, seed=7) == plan_demo(now=now, tickets=SMALL, seed=7)
    assert plan_demo(now=now, tickets=SMALL, seed=7) != plan_demo(now=now, tickets=SMALL, seed=8)


def test_it_has_a_reply_for_every_intent_in_both_datasets() -> None:
    bitext_intents = {u.intent for u in corpus.bitext_utterances()}
    banking_intents = {u.intent for u in corpus.banking_utterances()}

    assert bitext_intents == set(corpus.CUSTOMER_INTENTS)
    assert len(bitext_intents) == 27
    assert banking_intents == set(corpus.BANKING_THEME_OF)
    assert len(banking_intents) == 77


def test_it_ships_each_dataset_with_its_licence_and_readme() -> None:
    data = resources.files("patron.demo").joinpath("data")
    for folder in ("bitext-customer-service", "banking77"):
        assert data.joinpath(folder, "LICENSE").is_file()
        assert data.joinpath(folder, "README.md").is_file()


@pytest.mark.django_db
def test_it_creates_client_and_customer_tickets_with_messages_and_events(now: datetime) -> None:
    result = load_demo(now=now, tickets=SMALL)

    assert result.loaded
    assert Ticket.objects.count() == SMALL
    client_tickets = Ticket.objects.filter(organization__relationship=Relationship.CLIENT)
    assert client_tickets.exists()
    assert Ticket.objects.exclude(pk__in=client_tickets).exists()
    assert Organization.objects.filter(relationship=Relationship.CLIENT).count() == 12
    for ticket in Ticket.objects.all():
        assert ticket.messages.count() == ticket.message_count >= 1
        assert ticket.events.filter(kind=EventKind.CREATED).count() == 1
    assert Message.objects.filter(author_kind=AuthorKind.AGENT, public=True).exists()
    # Every kind of event in the database is one EventKind names (the timeline has words for it).
    kinds = set(TicketEvent.objects.values_list("kind", flat=True))
    assert len(kinds) > 3 and kinds <= set(EventKind.values), kinds - set(EventKind.values)
    assert set(TicketEvent.objects.values_list("actor_kind", flat=True)) <= set(AuthorKind.values)


@pytest.mark.django_db
def test_it_leaves_each_ticket_as_its_plan_says(now: datetime) -> None:
    plan = plan_demo(now=now, tickets=SMALL)

    load_demo(now=now, tickets=SMALL)

    loaded = list(Ticket.objects.order_by("number").values_list("subject", "status"))
    assert loaded == [(spec.subject, spec.final_status) for spec in plan.tickets]


@pytest.mark.django_db
def test_it_dates_every_event_within_the_last_ninety_days(now: datetime) -> None:
    load_demo(now=now, tickets=SMALL)

    planned = TicketEvent.objects.exclude(kind__startswith="sla_")
    times = planned.values_list("at", flat=True)
    assert min(times) >= now - timedelta(days=DEMO_DAYS)
    assert max(times) < now
    # The SLA clocks' own events are written when the consumers run, after the plan's `now`.
    told = TicketEvent.objects.filter(kind__startswith="sla_").values_list("at", flat=True)
    assert told and min(told) >= now


@pytest.mark.django_db
def test_it_does_not_duplicate_anything_when_loaded_twice(now: datetime) -> None:
    load_demo(now=now, tickets=SMALL)
    counts = (Ticket.objects.count(), Contact.objects.count(), TicketEvent.objects.count())

    second = load_demo(now=now, tickets=SMALL)

    assert not second.loaded
    assert is_loaded()
    assert (Ticket.objects.count(), Contact.objects.count(), TicketEvent.objects.count()) == counts


@pytest.mark.django_db
def test_it_leaves_no_backlog_behind_and_the_desk_searchable(now: datetime) -> None:
    from django_tasks_db.models import DBTaskResult

    from patron.core.models import DeliveryState, EventDelivery
    from patron.people.models import PeopleEventDelivery
    from patron.search.models import SearchDocument

    stages: dict[str, tuple[int, int]] = {}
    load_demo(now=now, tickets=SMALL, progress=lambda s, d, t: stages.__setitem__(s, (d, t)))

    assert EventDelivery.objects.exists()
    assert not EventDelivery.objects.exclude(state=DeliveryState.DONE).exists()
    assert not PeopleEventDelivery.objects.exclude(state=DeliveryState.DONE).exists()
    assert not DBTaskResult.objects.exists()
    assert SearchDocument.objects.filter(kind="ticket").count() == SMALL
    done, total = stages["Notifications and search index"]
    assert done == total == EventDelivery.objects.count() + PeopleEventDelivery.objects.count()
    assert stages["Loading demo tickets"] == (SMALL, SMALL)


@pytest.mark.django_db
def test_it_installs_the_client_and_customer_presets_and_they_act_on_new_tickets(
    now: datetime,
) -> None:
    from patron.automation.models import Trigger
    from patron.automation.presets import CLIENT_PRESETS, CUSTOMER_PRESETS
    from patron.core import events
    from patron.people.models import Relationship
    from patron.tickets import services as tickets

    load_demo(now=now, tickets=SMALL)
    names = {p["name"] for p in CLIENT_PRESETS + CUSTOMER_PRESETS}
    assert set(Trigger.objects.values_list("name", flat=True)) == names
    assert not Ticket.objects.filter(tags__name="escalated").exists()  # not on the history

    client = Contact.objects.filter(organization__relationship=Relationship.CLIENT).first()
    assert client is not None and client.organization is not None
    ticket = tickets.create_ticket(
        requester=client, subject="Wire stuck", body="Urgent.", now=now, priority="urgent"
    )
    events.deliver_pending(now=lambda: now)
    assert list(ticket.tags.values_list("name", flat=True)) == ["escalated"]
