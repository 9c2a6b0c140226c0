"""Words for events: one sentence per kind, on the ticket's page and told elsewhere."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from patron.tickets import sentences
from patron.tickets.models import AuthorKind, EventKind, TicketEvent

SAM = User(pk=7, username="sam", first_name="Sam", last_name="Ito")
NAMES = sentences.Names(users={7: "Sam Ito", 9: "Priya Raman"}, teams={3: "Billing"})


def event(kind: str, actor_kind: str = AuthorKind.AGENT, /, **data: Any) -> TicketEvent:
    """An unsaved event by Sam: sentences never query."""
    return TicketEvent(kind=kind, actor_kind=actor_kind, actor_agent=SAM, data=data)


def test_every_event_kind_has_its_own_sentence() -> None:
    assert set(sentences.SENTENCES) == set(EventKind.values)
    for kind in EventKind:
        text = sentences.describe(event(kind), names=NAMES)
        assert not text.startswith(f"Sam Ito: {kind.label}"), kind  # not the fallback


@pytest.mark.parametrize(
    ("made", "words"),
    [
        (event(EventKind.CREATED), "Sam Ito created the ticket"),
        (event(EventKind.CREATED, split_from=12), "Sam Ito created the ticket (split from #12)"),
        (event(EventKind.MESSAGE_ADDED, public=True), "Sam Ito added a public reply"),
        (event(EventKind.MESSAGE_ADDED, public=False), "Sam Ito added an internal note"),
        (event(EventKind.MESSAGE_ADDED, AuthorKind.CONTACT), "Sam Ito added a message"),
        (
            event(EventKind.FIELD_CHANGED, field="priority", **{"from": "normal", "to": "high"}),
            "Sam Ito changed priority from normal to high",
        ),
        (
            event(EventKind.FIELD_CHANGED, field="team", **{"from": None, "to": 3}),
            "Sam Ito changed team from nothing to Billing",
        ),
        (
            event(EventKind.FIELD_CHANGED, field="tags", **{"from": [], "to": ["a", "b"]}),
            "Sam Ito changed tags from nothing to a, b",
        ),
        (
            event(EventKind.ASSIGNED, **{"from": None, "to": 9}),
            "Sam Ito assigned the ticket from nobody to Priya Raman",
        ),
        (event(EventKind.FOLLOWED, user=7), "Sam Ito started following the ticket"),
        (event(EventKind.UNFOLLOWED, user=7), "Sam Ito stopped following the ticket"),
        (event(EventKind.FOLLOWED, user=9), "Sam Ito made Priya Raman follow the ticket"),
        (event(EventKind.UNFOLLOWED, user=9), "Sam Ito made Priya Raman stop following the ticket"),
        (event(EventKind.MERGED, into=5), "Sam Ito merged this ticket into #5"),
        (event(EventKind.MERGED_IN, source=4), "Sam Ito merged #4 into this ticket"),
        (event(EventKind.SPLIT_OFF, into=6), "Sam Ito split a message off into #6"),
        (event(EventKind.REQUESTER_CHANGED), "Sam Ito changed the requester"),
        (
            event(EventKind.MAIL_BOUNCED, recipient="a@b.example", status="5.1.1"),
            "The reply to a@b.example bounced: 5.1.1",
        ),
        (
            event(EventKind.MAIL_BOUNCED, automatic=True, delayed=True, diagnostic="busy"),
            "The acknowledgement to the recipient is delayed, the receiving server still tries: "
            "busy",
        ),
    ],
)
def test_an_event_reads_as_one_line_on_its_ticket_page(made: TicketEvent, words: str) -> None:
    assert sentences.describe(made, names=NAMES) == words


def test_following_for_someone_unknown_says_someone() -> None:
    made = event(EventKind.UNFOLLOWED, user=8)

    assert sentences.describe(made, names=NAMES) == "Sam Ito made someone stop following the ticket"


def test_a_custom_field_is_called_by_its_label() -> None:
    names = sentences.Names(labels={"plan": "Plan"})
    made = event(EventKind.FIELD_CHANGED, field="custom.plan", **{"from": "", "to": "Pro"})

    assert sentences.describe(made, names=names) == "Sam Ito changed Plan from nothing to Pro"


@pytest.mark.parametrize(
    ("made", "to_you", "words"),
    [
        (event(EventKind.MESSAGE_ADDED, public=True), False, "Sam Ito replied on #1 Refund"),
        (event(EventKind.MESSAGE_ADDED, public=False), False, "Sam Ito added a note on #1 Refund"),
        (event(EventKind.ASSIGNED, to=9), True, "Sam Ito assigned #1 Refund to you"),
        (event(EventKind.ASSIGNED, to=9), False, "Sam Ito reassigned #1 Refund"),
        (event(EventKind.CREATED), False, "Sam Ito opened #1 Refund"),
        (
            event(EventKind.FIELD_CHANGED, field="due_at"),
            False,
            "Sam Ito changed the due at of #1 Refund",
        ),
        (event(EventKind.MERGED, into=5), False, "Sam Ito: merged on #1 Refund"),
    ],
)
def test_an_event_told_elsewhere_names_the_ticket(
    made: TicketEvent, to_you: bool, words: str
) -> None:
    assert sentences.tell(made, about="#1 Refund", to_you=to_you) == words


def test_a_person_is_their_full_name_else_their_username() -> None:
    assert sentences.person(
        User(username="sam", first_name="Sam", last_name="Ito"), missing="-"
    ) == ("Sam Ito")
    assert sentences.person(User(username="sam"), missing="-") == "sam"
    assert sentences.person(None, missing="System") == "System"
