"""The one retry schedule: a wait that doubles from `first` up to `maximum`, and its sum."""

from __future__ import annotations

from datetime import timedelta

import pytest

from patron.core import events
from patron.core.backoff import backoff, total_backoff
from patron.mail import outbound

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def test_it_doubles_from_the_first_wait_up_to_the_maximum() -> None:
    waits = [backoff(n, first=MINUTE, maximum=HOUR) / MINUTE for n in range(1, 9)]

    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]


def test_no_attempt_yet_waits_the_first_wait() -> None:
    assert backoff(0, first=MINUTE, maximum=HOUR) == MINUTE


def test_a_huge_attempt_count_still_waits_the_maximum() -> None:
    assert backoff(10**9, first=timedelta(seconds=30), maximum=HOUR) == HOUR


def test_the_total_is_the_sum_of_the_waits_so_far() -> None:
    assert total_backoff(0, first=MINUTE, maximum=HOUR) == timedelta()
    assert total_backoff(4, first=MINUTE, maximum=HOUR) == 15 * MINUTE
    assert total_backoff(9, first=MINUTE, maximum=HOUR) == (63 + 3 * 60) * MINUTE


@pytest.mark.parametrize(("first", "maximum"), [(timedelta(), HOUR), (HOUR, MINUTE)])
def test_it_refuses_a_schedule_that_cannot_be(first: timedelta, maximum: timedelta) -> None:
    with pytest.raises(ValueError, match="0 < first <= maximum"):
        backoff(1, first=first, maximum=maximum)


def test_event_deliveries_keep_30_seconds_doubling_to_an_hour() -> None:
    waits = [
        backoff(n, first=events.BACKOFF_FIRST, maximum=events.BACKOFF_MAX).total_seconds()
        for n in range(1, events.MAX_ATTEMPTS + 1)
    ]

    assert waits == [min(30 * 2 ** (n - 1), 3600) for n in range(1, events.MAX_ATTEMPTS + 1)]


def test_outbound_mail_keeps_a_minute_doubling_to_an_hour() -> None:
    assert [outbound.backoff(n) / MINUTE for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert outbound.retry_span(3) == 7 * MINUTE
