"""How long to wait before trying again: one doubling schedule for every retry loop.

Event deliveries (`patron.core.events`) and outbound mail (`patron.mail.outbound`) each pass
their own first wait and ceiling.
"""

from __future__ import annotations

import math
from datetime import timedelta


def backoff(attempts: int, *, first: timedelta, maximum: timedelta) -> timedelta:
    """The wait after the `attempts`-th failed try: first, twice that, four times … at most
    `maximum`. Zero or fewer attempts wait `first`, as the first does."""
    if first <= timedelta() or maximum < first:
        raise ValueError("backoff needs 0 < first <= maximum")
    # Doubling more often than it takes to pass the ceiling changes nothing; capping the
    # exponent keeps a receipt with a huge attempt count from building a huge number.
    enough = math.ceil(maximum / first).bit_length()
    factor: int = 2 ** min(max(attempts - 1, 0), enough)
    return min(first * factor, maximum)


def total_backoff(attempts: int, *, first: timedelta, maximum: timedelta) -> timedelta:
    """How long `attempts` failed tries have waited in all, by the same schedule."""
    return sum(
        (backoff(n, first=first, maximum=maximum) for n in range(1, attempts + 1)), timedelta()
    )
