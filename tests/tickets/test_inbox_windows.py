"""The inbox's first rows are looked for among the newest tickets first (`inbox._first_rows`):
the pages must be exactly those of ordering the whole view, whatever the window finds."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.db.models import QuerySet

from patron.tickets import inbox
from patron.tickets.models import Status, Ticket
from tests import factories


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inbox, "WINDOWS", (3, 6))


@pytest.fixture
def desk(db: None, now: datetime) -> list[int]:
    """40 tickets, the open ones dense among the newest and sparse among the oldest, some
    sharing an update time; returns their ids."""
    ids = []
    for n in range(40):
        ticket = factories.ticket(now=now)
        open_ = n >= 34 or n % 9 == 0
        Ticket.objects.filter(pk=ticket.pk).update(
            status=Status.OPEN if open_ else Status.CLOSED,
            updated_at=now + timedelta(minutes=n // 2),
        )
        ids.append(ticket.pk)
    return ids


def walk(tickets: QuerySet[Ticket], *, descending: bool, size: int) -> list[int]:
    """Follow the older-page cursors to the end, collecting ids in order."""
    seen: list[int] = []
    after = ""
    while True:
        page = inbox.paginate(tickets, key="updated", descending=descending, after=after, size=size)
        seen += [ticket.pk for ticket in page.tickets]
        if page.older is None:
            return seen
        after = page.older


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("size", [1, 2, 4, 50])
def test_pages_are_those_of_ordering_the_whole_view(
    desk: list[int], small_windows: None, descending: bool, size: int
) -> None:
    view = Ticket.objects.filter(status=Status.OPEN)
    order = ["-updated_at", "-id"] if descending else ["updated_at", "id"]
    expected = list(view.order_by(*order).values_list("pk", flat=True))

    assert walk(view, descending=descending, size=size) == expected


def test_a_view_with_no_row_in_any_window_still_shows_its_rows(
    desk: list[int], small_windows: None
) -> None:
    oldest = desk[:2]
    view = Ticket.objects.filter(pk__in=oldest)

    assert walk(view, descending=True, size=4) == sorted(oldest, reverse=True)


def test_walking_back_to_newer_pages_gives_the_same_order(
    desk: list[int], small_windows: None
) -> None:
    view = Ticket.objects.filter(status=Status.OPEN)
    forward = walk(view, descending=True, size=2)
    last = inbox.paginate(view, key="updated", descending=True, size=2)
    while last.older is not None:
        last = inbox.paginate(view, key="updated", descending=True, after=last.older, size=2)
    back = [t.pk for t in last.tickets]
    page = last
    while page.newer is not None:
        page = inbox.paginate(view, key="updated", descending=True, before=page.newer, size=2)
        back = [t.pk for t in page.tickets] + back

    assert back == forward
