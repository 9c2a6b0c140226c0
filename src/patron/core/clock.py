"""The one clock that Patron's entry points read (invariant 4: time is explicit).

Services take `now` as an argument and never read the time themselves; the places that start
work (a request's view, a task, a periodic job, a command) read it here, once, and pass it on.
So a test can move every one of them together: `travel_to(at)` makes this clock read `at` and
tick on from there, which is how the suite runs each test at its fixed `NOW`, whatever the
calendar says.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.utils import timezone

_lock = threading.Lock()
_offset = timedelta(0)


def now() -> datetime:
    """The current time, aware, in UTC (moved by `travel_to` in tests)."""
    return timezone.now() + _offset


def set_offset(offset: timedelta) -> None:
    global _offset
    with _lock:
        _offset = offset


@contextmanager
def travel_to(at: datetime) -> Iterator[None]:
    """Inside the block the clock reads `at`, then ticks on; every thread sees the same."""
    if timezone.is_naive(at):
        raise ValueError("travel_to needs an aware datetime")
    previous = _offset
    set_offset(at - timezone.now())
    try:
        yield
    finally:
        set_offset(previous)
