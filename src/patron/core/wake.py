"""Wake the live streams after a commit: a Redis pub/sub message every web process listens for.

Without REDIS_URL (the embedded mode) the streams poll the database and this does nothing.
Imports nothing of Patron's but `core.commit_batch`, so services, consumers and presence can all
call it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings

from patron.core import commit_batch

logger = logging.getLogger(__name__)

CHANNEL = "patron:live"

_redis_client: Any = None
_redis_lock = threading.Lock()


def _redis() -> Any:
    global _redis_client
    with _redis_lock:
        if _redis_client is None:
            import redis

            _redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
        return _redis_client


def publish() -> None:
    """Tell every web process's streams to look now. A failure only costs latency: streams also
    look by themselves every few seconds."""
    try:
        _redis().publish(CHANNEL, b"1")
    except Exception:  # any Redis trouble is logged, never raised into a request
        logger.warning("could not publish a live update to Redis", exc_info=True)


def announce() -> None:
    """After the current transaction commits, wake the live streams (Redis pub/sub): once per
    transaction, however many changes in it announce. Without REDIS_URL, streams find changes
    by polling and this does nothing."""
    if settings.REDIS_URL:
        commit_batch.collect("wake", None, _publish_once)


def _publish_once(_: list[None]) -> None:
    publish()
