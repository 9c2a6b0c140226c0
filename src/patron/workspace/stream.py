"""The live stream: one Server-Sent Events connection per agent tab, from an async Django view.

Each web process has one `Hub` that learns when something may have changed: in the embedded mode
it polls one cheap query (`live.signature()`) every POLL_SECONDS for all its streams at once; with
REDIS_URL set it listens to the Redis channel `core/wake.py` publishes to (and still polls slowly,
so a lost message costs seconds, not an update). Woken streams read from the database what their
viewer may see (`live.Session.poll`), in a small pool of threads so that the number of open
streams does not set the number of database connections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponseForbidden, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect

from patron.core import wake
from patron.people import permissions
from patron.tickets.models import Ticket
from patron.workspace import live

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # embedded mode: how often the hub looks at the tables
REDIS_FALLBACK_POLL_SECONDS = 5.0  # with Redis: how often it looks anyway
KEEPALIVE_SECONDS = 15.0  # a comment line keeps proxies from closing an idle stream
RECONNECT_MS = 1000  # the browser's wait before reconnecting (SSE `retry:`)
# A stream ends after this long and the browser reconnects at once with Last-Event-ID: a logged
# out or deactivated agent stops receiving within this time, and no connection lives forever.
MAX_STREAM_SECONDS = 300.0
DATABASE_THREADS = 4


_executor = ThreadPoolExecutor(max_workers=DATABASE_THREADS, thread_name_prefix="patron-live")


def _on_db_thread[T](function: Callable[[], T]) -> T:
    """Run in a pool thread, dropping the thread's connection if the database went away."""
    try:
        return function()
    except DatabaseError:
        connection.close()
        raise


async def in_thread[T](function: Callable[[], T]) -> T:
    call = sync_to_async(_on_db_thread, thread_sensitive=False, executor=_executor)
    return await call(function)


class Hub:
    """Wakes every stream of this process when the database may hold something new."""

    def __init__(self) -> None:
        self.version = 0
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listeners = 0

    def _bump(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def join(self) -> None:
        self._listeners += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch())

    def leave(self) -> None:
        self._listeners -= 1
        if self._listeners <= 0 and self._task is not None:
            self._task.cancel()
            self._task = None

    async def wait(self, seen: int, timeout: float) -> bool:
        """Wait until the version moves past `seen` or `timeout` passes; True if it moved."""
        if self.version != seen:
            return True
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _watch(self) -> None:
        if settings.REDIS_URL:
            await self._watch_redis()
        else:
            await self._poll(POLL_SECONDS)

    async def _poll(self, every: float) -> None:
        last: tuple[int, int, str] | None = None
        while True:
            try:
                current = await in_thread(live.signature)
            except DatabaseError:
                logger.warning("live updates could not read the database", exc_info=True)
                current = None
            if current is not None and current != last:
                if last is not None:
                    self._bump()
                last = current
            await asyncio.sleep(every)

    async def _watch_redis(self) -> None:
        import redis.asyncio as aioredis

        poller = asyncio.get_running_loop().create_task(self._poll(REDIS_FALLBACK_POLL_SECONDS))
        try:
            while True:
                client = aioredis.Redis.from_url(settings.REDIS_URL)
                try:
                    async with client.pubsub() as pubsub:
                        await pubsub.subscribe(wake.CHANNEL)
                        async for message in pubsub.listen():
                            if message.get("type") == "message":
                                self._bump()
                except (OSError, aioredis.RedisError):
                    logger.warning("live updates lost Redis; retrying", exc_info=True)
                    await asyncio.sleep(1)
                finally:
                    await client.aclose()
        finally:
            poller.cancel()


_hubs: dict[int, Hub] = {}


def hub() -> Hub:
    """This event loop's hub (one per process under uvicorn; tests may run several loops)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(id(loop))
    if found is None:
        found = _hubs[id(loop)] = Hub()
    return found


async def events(
    session: live.Session, *, max_seconds: float = MAX_STREAM_SECONDS
) -> AsyncIterator[str]:
    """The stream's body: frames as they come, a keep-alive when idle, until `max_seconds`."""
    the_hub = hub()
    the_hub.join()
    started = time.monotonic()
    ends_at = started + max_seconds
    try:
        yield f"retry: {RECONNECT_MS}\n\n"
        last_sent = started
        while True:
            seen = the_hub.version
            frames: list[str] = []
            # Events first, on their own: counting the views must never delay them.
            for part in (session.poll_events, session.poll_extras):
                try:
                    batch = await in_thread(part)
                except DatabaseError:
                    logger.warning("a live stream could not read the database", exc_info=True)
                    batch = []
                if batch:
                    yield "".join(batch)
                frames += batch
            now = time.monotonic()
            if frames:
                last_sent = now
            elif now - last_sent >= KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                last_sent = now
            if now >= ends_at:
                return
            due = session.seconds_until_due()
            timeout = min(KEEPALIVE_SECONDS - (now - last_sent), ends_at - now)
            if due is not None:
                timeout = min(timeout, due)
            await the_hub.wait(seen, max(timeout, 0.05))
    finally:
        the_hub.leave()


def _session(request: HttpRequest, user: User) -> live.Session:
    cursor = live.parse_cursor(request.headers.get("Last-Event-ID"), request.GET.get("since"))
    if cursor is None:
        cursor = live.latest_event_id()
    ticket = None
    number = request.GET.get("ticket", "")
    if number.isdigit():
        ticket = Ticket.objects.filter(number=int(number)).first()
        if ticket is not None and not permissions.may_view_ticket(user, ticket):
            ticket = None
    counts = request.GET.get("counts") == "1"
    return live.Session(user=user, cursor=cursor, ticket=ticket, counts=counts)


async def stream(request: HttpRequest) -> HttpResponseBase:
    """GET /live/stream?since=<event id>[&ticket=<number>][&counts=1]: text/event-stream."""
    user: Any = await request.auser()
    if not user.is_authenticated:
        return redirect("login")
    if not await sync_to_async(permissions.is_agent)(user):
        return HttpResponseForbidden("Only agents have a live stream.")
    session = await sync_to_async(_session)(request, user)
    response = StreamingHttpResponse(events(session), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each frame through at once
    return response
