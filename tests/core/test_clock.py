"""The one clock: entry points read it, tests move it, and it keeps ticking once moved."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from patron.core import clock
from tests.conftest import NOW


def test_every_test_starts_at_the_suites_fixed_time() -> None:
    assert abs(clock.now() - NOW) < timedelta(seconds=5)


def test_it_travels_to_a_time_and_ticks_on_from_there() -> None:
    later = datetime(2031, 2, 3, 4, 5, tzinfo=UTC)

    with clock.travel_to(later):
        first = clock.now()
        second = clock.now()

    assert later <= first <= second < later + timedelta(seconds=5)
    assert abs(clock.now() - NOW) < timedelta(seconds=5)  # back where the test was


def test_every_thread_reads_the_same_clock() -> None:
    seen: list[datetime] = []
    worker = threading.Thread(target=lambda: seen.append(clock.now()))

    worker.start()
    worker.join()

    assert abs(seen[0] - NOW) < timedelta(seconds=5)


def test_it_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="aware"), clock.travel_to(datetime(2030, 1, 1)):  # noqa: DTZ001
        pass


def test_it_reads_utc() -> None:
    assert clock.now().utcoffset() == timedelta(0)
    assert timezone.is_aware(clock.now())
