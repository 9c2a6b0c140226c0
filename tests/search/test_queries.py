"""The results contract: these run unchanged on SQLite and PostgreSQL (DESIGN invariant 6)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patron.core.errors import InvalidInput
from patron.people.models import Contact, Role
from patron.search.queries import Filters, query
from patron.search.services import index_ticket, reindex_all
from patron.tickets import services as tickets
from patron.tickets.models import Ticket
from tests import factories

CONTRACT = [
    # (query, expected hits best first); see patron.search.queries for the ranking.
    ("zephyr", ["C1", "O1", "T1", "T3", "T2"]),
    ("pallet zephyr", ["T3", "T2", "T1"]),
    ("QUOKKA", ["O2", "T5", "C1", "T4"]),
    ("cafe", ["O3", "T7", "T6"]),
    ("café", ["O3", "T7", "T6"]),
    ("menu caf", ["T7", "T6"]),
    ("4411", ["T8"]),
    ("reset", ["T4"]),
    ("analytics", ["O2", "T5"]),
    ("lumière", ["O3"]),
    ("brulee", ["T6"]),
    ("marisol@quokka.example", ["C1"]),
    ("7946", ["C1"]),
    ("zephyr nothingatall", []),
]

HOSTILE = [
    '"', "NEAR(", "a AND", "-", "*", "'", "AND OR NOT", '")(*^', "a:* & !b | c", "🎉 日本語",
    "\x00", "", "   ", "((((", "title:zephyr", "zephyr*", "-zephyr", "NEAR(zephyr pallet, 2)",
]  # fmt: skip


def names(page_hits: list[tuple[str, int]], corpus: dict[str, tuple[str, int]]) -> list[str]:
    by_key = {key: name for name, key in corpus.items()}
    return [by_key.get(hit, f"unexpected {hit}") for hit in page_hits]


@pytest.mark.parametrize(("text", "expected"), CONTRACT)
def test_it_gives_the_same_hits_in_the_same_order_on_every_database(
    corpus: dict[str, tuple[str, int]], admin: User, text: str, expected: list[str]
) -> None:
    page = query(text, user=admin)
    assert names([(hit.kind, hit.id) for hit in page.hits], corpus) == expected


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_queries_do_not_raise(
    corpus: dict[str, tuple[str, int]], admin: User, text: str
) -> None:
    page = query(text, user=admin)
    assert page.next_cursor is None


def test_a_hostile_query_still_finds_its_words(
    corpus: dict[str, tuple[str, int]], admin: User
) -> None:
    page = query('"zephyr" -pallet*', user=admin)
    assert names([(hit.kind, hit.id) for hit in page.hits], corpus) == ["T3", "T2", "T1"]


def test_an_empty_query_finds_nothing(corpus: dict[str, tuple[str, int]], admin: User) -> None:
    assert query("  ", user=admin).hits == []


def test_hits_with_every_word_in_the_title_come_first(
    corpus: dict[str, tuple[str, int]], admin: User
) -> None:
    hits = query("zephyr", user=admin).hits
    assert [hit.in_title for hit in hits] == [True, True, True, False, False]
    assert not any(hit.in_title for hit in query("pallet zephyr", user=admin).hits)


def test_a_ticket_is_found_by_its_number(corpus: dict[str, tuple[str, int]], admin: User) -> None:
    ticket_id = corpus["T8"][1]
    number = Ticket.objects.get(pk=ticket_id).number
    hits = query(str(number), user=admin).hits
    assert [(hit.kind, hit.id, hit.reference) for hit in hits] == [
        ("ticket", ticket_id, f"#{number}")
    ]
    assert hits[0].url == f"/tickets/{number}/"


def test_the_snippet_escapes_a_script_in_a_body_and_marks_the_term(
    db: None, now: datetime, admin: User
) -> None:
    ticket = factories.ticket(
        now=now, subject="Odd form", body="Please run <script>alert('boom')</script> now."
    )
    index_ticket(ticket.pk)
    [hit] = query("boom", user=admin).hits
    assert "<script>" not in hit.snippet_html
    assert "&lt;script&gt;alert(&#x27;<mark>boom</mark>&#x27;)&lt;/script&gt;" in hit.snippet_html


def test_a_restricted_agent_does_not_see_other_teams_tickets(db: None, now: datetime) -> None:
    mine, theirs = factories.team(), factories.team()
    restricted = factories.agent(Role.AGENT, teams=(mine,), restricted=True)
    ours = factories.ticket(now=now, subject="Xylophone tuning", team=mine)
    other = factories.ticket(now=now, subject="Xylophone repair", team=theirs)
    reindex_all()
    assert [hit.id for hit in query("xylophone", user=restricted).hits] == [ours.pk]
    assert {hit.id for hit in query("xylophone", user=factories.agent()).hits} == {
        ours.pk,
        other.pk,
    }


def test_someone_who_is_not_an_agent_finds_nothing(
    corpus: dict[str, tuple[str, int]], django_user_model: type[User]
) -> None:
    visitor = django_user_model.objects.create_user(username="visitor")
    assert query("zephyr", user=visitor).hits == []


def test_the_cursor_walks_every_hit_once(db: None, now: datetime, admin: User) -> None:
    requester = factories.contact(now=now)
    created = [
        factories.ticket(
            now=now,
            requester=requester,
            subject=f"Walrus {n}",
            body="walrus" if n % 3 else "nothing",
        ).pk
        for n in range(60)
    ]
    reindex_all()
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = query("walrus", user=admin, cursor=cursor, limit=25)
        seen += [hit.id for hit in page.hits]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 60
    assert set(seen) == set(created)
    assert seen == [hit.id for hit in query("walrus", user=admin, limit=100).hits]


def test_pages_walk_past_the_title_hits_into_the_rest_newest_first_with_no_cap(
    db: None, now: datetime, admin: User
) -> None:
    requester = factories.contact(now=now, name="Ann Lee")
    in_title, elsewhere = [], []
    for n in range(130):  # more than MAX_LIMIT: paging, not a cap, ends the walk
        if n % 2:
            in_title.append(factories.ticket(now=now, requester=requester, subject=f"Okapi {n}").pk)
        else:
            ticket = factories.ticket(
                now=now, requester=requester, subject=f"Zebra {n}", body="okapi"
            )
            elsewhere.append(ticket.pk)
    factories.ticket(now=now, requester=requester, subject="Giraffe", body="nothing")
    reindex_all()
    seen: list[tuple[int, bool]] = []
    cursor = None
    while True:
        page = query("okapi", user=admin, cursor=cursor, limit=7)
        seen += [(hit.id, hit.in_title) for hit in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = [(pk, True) for pk in sorted(in_title, reverse=True)]
    expected += [(pk, False) for pk in sorted(elsewhere, reverse=True)]
    assert seen == expected


def test_a_cursor_from_the_second_group_does_not_go_back_to_the_first(
    corpus: dict[str, tuple[str, int]], admin: User
) -> None:
    first = query("zephyr", user=admin, limit=4)
    assert names([(hit.kind, hit.id) for hit in first.hits], corpus) == ["C1", "O1", "T1", "T3"]
    rest = query("zephyr", user=admin, cursor=first.next_cursor, limit=4)
    assert names([(hit.kind, hit.id) for hit in rest.hits], corpus) == ["T2"]
    assert rest.next_cursor is None


def test_a_tampered_cursor_is_a_readable_error(
    corpus: dict[str, tuple[str, int]], admin: User
) -> None:
    with pytest.raises(InvalidInput, match="expired"):
        query("zephyr", user=admin, cursor="not-a-cursor")


def test_the_number_of_queries_does_not_grow_with_the_limit(
    db: None, now: datetime, admin: User
) -> None:
    # More title hits than either limit, so both pages come from the first group alone (a page
    # that runs out of title hits asks once more, for the rest: a query per group, not per hit).
    for n in range(40):
        factories.ticket(now=now, subject=f"Narwhal {n}")
    for n in range(40):
        factories.ticket(now=now, subject=f"Seal {n}", body="narwhal")
    reindex_all()
    counts = []
    for limit in (2, 30):
        with CaptureQueriesContext(connection) as queries:
            assert len(query("narwhal", user=admin, limit=limit).hits) == limit
        counts.append(len(queries))
    assert counts[0] == counts[1]
    spanning = []
    for limit in (45, 70):
        with CaptureQueriesContext(connection) as queries:
            assert len(query("narwhal", user=admin, limit=limit).hits) == limit
        spanning.append(len(queries))
    assert spanning == [counts[0] + 1, counts[0] + 1]


def test_it_filters_by_kind(corpus: dict[str, tuple[str, int]], admin: User) -> None:
    page = query("zephyr", user=admin, kinds=["organization", "contact"])
    assert names([(hit.kind, hit.id) for hit in page.hits], corpus) == ["C1", "O1"]


def test_a_status_filter_keeps_only_tickets_in_that_status(
    corpus: dict[str, tuple[str, int]], admin: User, now: datetime
) -> None:
    ticket = Ticket.objects.get(pk=corpus["T3"][1])
    tickets.change_status(ticket, "pending", actor=admin, now=now)
    page = query("zephyr", user=admin, filters=Filters(status="pending"))
    assert names([(hit.kind, hit.id) for hit in page.hits], corpus) == ["T3"]


def test_an_assignee_filter_keeps_only_their_tickets(
    corpus: dict[str, tuple[str, int]], admin: User, now: datetime
) -> None:
    ticket = Ticket.objects.get(pk=corpus["T2"][1])
    tickets.assign(ticket, admin, actor=admin, now=now)
    page = query("zephyr", user=admin, filters=Filters(assignee_id=admin.pk))
    assert names([(hit.kind, hit.id) for hit in page.hits], corpus) == ["T2"]


def test_a_relationship_filter_keeps_clients_and_their_tickets(
    corpus: dict[str, tuple[str, int]], admin: User
) -> None:
    # Quokka is a client; Marisol writes from its domain; the tickets' requester is a customer.
    page = query("quokka", user=admin, filters=Filters(relationship="client"))
    assert names([(hit.kind, hit.id) for hit in page.hits], corpus) == ["O2", "C1"]
    contact = Contact.objects.get(pk=corpus["C2"][1])
    contact.relationship_override = "client"
    contact.save()
    page = query("quokka", user=admin, filters=Filters(relationship="client"))
    assert names([(hit.kind, hit.id) for hit in page.hits], corpus) == ["O2", "T5", "C1", "T4"]


def test_a_date_range_keeps_tickets_updated_within_it(
    corpus: dict[str, tuple[str, int]], admin: User, now: datetime
) -> None:
    ticket = Ticket.objects.get(pk=corpus["T1"][1])
    tickets.change_priority(ticket, "high", actor=admin, now=now + timedelta(days=3))
    day = (now + timedelta(days=3)).date()
    page = query("zephyr", user=admin, kinds=["ticket"], filters=Filters(date_from=day))
    assert names([(hit.kind, hit.id) for hit in page.hits], corpus) == ["T1"]
    page = query("zephyr", user=admin, filters=Filters(date_to=date(2000, 1, 1)))
    assert page.hits == []
