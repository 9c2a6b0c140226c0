"""The live stream's content (live.Session), its SSE framing, and the async view over real
connections: resume by Last-Event-ID, permissions, and the Redis wake-up."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.test import AsyncClient

from patron.core import wake
from patron.notifications.models import Notification
from patron.people.models import Role
from patron.tickets import services
from patron.tickets.models import EventKind, TicketEvent
from patron.workspace import live, presence, stream
from tests import factories
from tests.conftest import require_server

REDIS_URL = "redis://127.0.0.1:6379/14"


class Clock:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def frames_named(frames: list[str], name: str) -> list[dict[str, Any]]:
    found = []
    for text in frames:
        lines = text.strip().splitlines()
        if f"event: {name}" in lines:
            data = "\n".join(line[6:] for line in lines if line.startswith("data: "))
            found.append(json.loads(data) if name != "presence" else {"html": data})
    return found


def resume_ids(frames: list[str]) -> list[int]:
    return [
        int(line[4:]) for text in frames for line in text.splitlines() if line.startswith("id: ")
    ]


def as_user(user: object) -> User:
    assert isinstance(user, User)
    return user


@pytest.fixture(autouse=True)
def _no_shared_counts() -> None:
    """Each test starts with no shared counts (the entry's own check is tested below)."""
    live._SHARED_COUNTS.clear()


# Framing


def test_frame_puts_each_data_line_in_its_own_field() -> None:
    assert live.frame("presence", "<p>a</p>\n<p>b</p>", event_id=7) == (
        "id: 7\nevent: presence\ndata: <p>a</p>\ndata: <p>b</p>\n\n"
    )
    assert live.frame(None, "") == "data: \n\n"


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (("12", "3"), 12),
        ((None, "3"), 3),
        (("", " 4 "), 4),
        (("abc", None), None),
        (("-5", "x"), None),
        ((None, None), None),
    ],
)
def test_parse_cursor_takes_the_first_number(
    candidates: tuple[str | None, ...], expected: int | None
) -> None:
    assert live.parse_cursor(*candidates) == expected


# The session


@pytest.mark.django_db
def test_new_events_come_in_order_with_what_the_page_needs(now: datetime) -> None:
    viewer = as_user(factories.agent())
    colleague = as_user(factories.agent())
    session = live.Session(user=viewer, cursor=live.latest_event_id())
    assert frames_named(session.poll(now=now), "ticket") == []

    ticket = factories.ticket(now=now, subject="Card blocked")
    services.reply(ticket, author=colleague, body="We unblocked it.", now=now)
    sent = frames_named(session.poll(now=now), "ticket")

    kinds = [item["kind"] for item in sent]
    assert kinds[0] == EventKind.CREATED
    assert kinds.count(EventKind.MESSAGE_ADDED) == 2  # the opening message and the reply
    assert {item["ticket"] for item in sent} == {ticket.number}
    reply_event = [item for item in sent if item["kind"] == EventKind.MESSAGE_ADDED][-1]
    assert reply_event["public"] is True
    assert reply_event["actor"] == colleague.get_full_name()
    assert reply_event["actor_id"] == colleague.pk
    assert reply_event["subject"] == "Card blocked"
    ids = [item["id"] for item in sent]
    assert ids == sorted(ids)
    assert session.cursor == ids[-1]
    assert frames_named(session.poll(now=now), "ticket") == []  # nothing twice


@pytest.mark.django_db
def test_resuming_from_a_last_event_id_sends_what_was_missed(now: datetime) -> None:
    viewer = as_user(factories.agent())
    ticket = factories.ticket(now=now)
    first = live.Session(user=viewer, cursor=0)
    frames = first.poll(now=now)
    resume_from = resume_ids(frames)[-1]
    services.add_note(ticket, author=viewer, body="while the connection was down", now=now)
    # The browser reconnects with Last-Event-ID: a new session from that id.
    second = live.Session(user=viewer, cursor=resume_from)
    sent = frames_named(second.poll(now=now), "ticket")
    # Events the browser already had may come again (it drops them by id); the missed one comes.
    assert sent[-1]["kind"] == EventKind.MESSAGE_ADDED
    assert all(int(str(item["id"])) > resume_from for item in sent)
    assert second.poll(now=now) == []


@pytest.mark.django_db
def test_a_restricted_agent_gets_no_event_of_another_team_but_moves_on(now: datetime) -> None:
    mine, theirs = factories.team(), factories.team()
    viewer = as_user(factories.agent(teams=(mine,), restricted=True))
    session = live.Session(user=viewer, cursor=live.latest_event_id())
    hidden = factories.ticket(now=now, team=theirs)
    frames = session.poll(now=now)
    assert frames_named(frames, "ticket") == []
    assert resume_ids(frames) == [session.resume_id]
    assert session.cursor == TicketEvent.objects.filter(ticket=hidden).latest("pk").pk

    shown = factories.ticket(now=now, team=mine)
    sent = frames_named(session.poll(now=now), "ticket")
    assert sent and {item["ticket"] for item in sent} == {shown.number}


@pytest.mark.django_db
def test_an_id_still_committing_is_waited_for_then_given_up(now: datetime) -> None:
    """PostgreSQL hands out ids before commit, so id 5 can appear after id 6. A missing id is
    looked for again, and the browser's resume point stays below it, until it appears or the
    patience runs out."""
    viewer = as_user(factories.agent())
    ticket = factories.ticket(now=now)
    clock = Clock()
    base = live.latest_event_id()
    session = live.Session(user=viewer, cursor=base, clock=clock)
    # Ids base+1 and base+3 commit; base+2 is still in flight.
    for pk in (base + 1, base + 3):
        TicketEvent.objects.create(
            pk=pk, ticket=ticket, kind=EventKind.FIELD_CHANGED, at=now, data={}
        )
    frames = session.poll(now=now)
    assert [item["id"] for item in frames_named(frames, "ticket")] == [base + 1, base + 3]
    assert session.gaps.keys() == {base + 2}
    assert set(resume_ids(frames)) == {base + 1}  # a reconnect reads from the gap again

    TicketEvent.objects.create(
        pk=base + 2, ticket=ticket, kind=EventKind.FIELD_CHANGED, at=now, data={}
    )
    later = frames_named(session.poll(now=now), "ticket")
    assert [item["id"] for item in later] == [base + 2]
    assert session.gaps == {} and session.resume_id == base + 3

    # A hole that never fills (a rolled-back transaction) is forgotten after the patience.
    TicketEvent.objects.create(
        pk=base + 5, ticket=ticket, kind=EventKind.FIELD_CHANGED, at=now, data={}
    )
    session.poll(now=now)
    assert session.gaps.keys() == {base + 4}
    clock.value += live.GAP_PATIENCE_SECONDS + 1
    session.poll(now=now)
    assert session.gaps == {} and session.resume_id == base + 5


@pytest.mark.django_db
def test_the_bell_is_sent_when_the_unread_count_changes(
    now: datetime, run_on_commit: Callable[..., Any]
) -> None:
    viewer = as_user(factories.agent())
    colleague = as_user(factories.agent())
    ticket = factories.ticket(now=now, assignee=viewer)
    session = live.Session(user=viewer, cursor=live.latest_event_id())
    first = frames_named(session.poll(now=now), "bell")
    assert len(first) == 1
    assert frames_named(session.poll(now=now), "bell") == []  # unchanged: nothing

    with run_on_commit():
        services.reply(ticket, author=colleague, body="Done", now=now)  # notifies the assignee
    unread = Notification.objects.filter(recipient=viewer, read_at__isnull=True).count()
    assert frames_named(session.poll(now=now), "bell") == [{"unread": unread}]
    assert unread == int(str(first[0]["unread"])) + 1


@pytest.mark.django_db
def test_view_counts_follow_events_at_most_once_a_second(now: datetime) -> None:
    viewer = as_user(factories.agent())
    clock = Clock()
    session = live.Session(user=viewer, cursor=live.latest_event_id(), counts=True, clock=clock)
    initial = frames_named(session.poll(now=now), "counts")
    assert len(initial) == 1
    assert session.poll(now=now) == []  # no event: no counts

    factories.ticket(now=now)
    assert frames_named(session.poll(now=now), "counts") == []  # within the second
    due = session.seconds_until_due()
    assert due is not None and 0 < due <= live.COUNTS_INTERVAL_SECONDS
    clock.value += live.COUNTS_INTERVAL_SECONDS
    counts = frames_named(session.poll(now=now), "counts")
    assert len(counts) == 1
    assert counts[0]["all_open"] == int(str(initial[0]["all_open"])) + 1


@pytest.mark.django_db
def test_shared_counts_equal_each_agents_own(now: datetime) -> None:
    """Built-in counts are computed once for everyone who sees every ticket; "My open", saved
    views and restricted agents' counts stay their own."""
    from patron.tickets import inbox
    from patron.tickets.models import SavedView

    team = factories.team()
    alice = as_user(factories.agent())
    bob = as_user(factories.agent(teams=(team,)))
    restricted = as_user(factories.agent(teams=(team,), restricted=True))
    factories.ticket(now=now, assignee=alice)
    factories.ticket(now=now, assignee=bob, team=team, priority="high")
    factories.ticket(now=now)
    SavedView.objects.create(
        name="High", owner=bob, rule={"all": [{"field": "priority", "op": "eq", "value": "high"}]}
    )
    for user in (alice, bob, restricted, alice):
        saved = list(inbox.saved_views_for(user))
        expected = inbox.view_counts(user, saved, now=now)
        assert live.view_counts(user, now=now) == expected
    assert live.view_counts(alice, now=now)["mine"] == 1
    assert live.view_counts(restricted, now=now)["all_open"] == 1

    factories.ticket(now=now, assignee=alice)  # a newer event: the shared entry is stale
    assert live.view_counts(bob, now=now)["all_open"] == 4
    assert live.view_counts(alice, now=now)["mine"] == 2


@pytest.mark.django_db
def test_presence_is_pushed_when_it_changes(now: datetime) -> None:
    viewer = as_user(factories.agent())
    colleague = User.objects.get(pk=factories.agent(role=Role.SUPERVISOR).pk)
    colleague.first_name, colleague.last_name = "Rosa", "Diaz"
    colleague.save()
    ticket = factories.ticket(now=now)
    session = live.Session(user=viewer, cursor=live.latest_event_id(), ticket=ticket)
    assert frames_named(session.poll(now=now), "presence") == [{"html": ""}]

    presence.touch(colleague, ticket, typing=True, now=now)
    shown = frames_named(session.poll(now=now), "presence")
    assert len(shown) == 1 and "Rosa Diaz is typing a reply" in str(shown[0]["html"])
    assert frames_named(session.poll(now=now), "presence") == []
    gone = now + presence.PRESENT_FOR + timedelta(seconds=1)
    assert frames_named(session.poll(now=gone), "presence") == [{"html": ""}]


# The async view, over the test database


async def _read(response: object, until: str, *, seconds: float = 10.0) -> str:
    """Read a streaming response's chunks until `until` appears (or fail after `seconds`)."""
    text = ""
    iterator = response.streaming_content.__aiter__()  # type: ignore[attr-defined]

    async def read() -> str:
        nonlocal text
        while until not in text:
            chunk = await iterator.__anext__()
            text += chunk.decode() if isinstance(chunk, bytes) else chunk
        return text

    try:
        return await asyncio.wait_for(read(), seconds)
    finally:
        await iterator.aclose()


@pytest.mark.django_db(transaction=True)
def test_the_stream_resumes_from_last_event_id(now: datetime) -> None:
    viewer = as_user(factories.agent())
    ticket = factories.ticket(now=now, subject="Resumed")
    before = TicketEvent.objects.filter(ticket=ticket).order_by("pk").first()
    assert before is not None

    async def scenario() -> str:
        client = AsyncClient()
        await client.aforce_login(viewer)
        response = await client.get("/live/stream", headers={"Last-Event-ID": str(before.pk)})
        assert response.status_code == 200
        assert response["Content-Type"] == "text/event-stream"
        assert response["Cache-Control"] == "no-cache"
        return await _read(response, '"kind": "message_added"')

    text = async_to_sync(scenario)()
    assert text.startswith(f"retry: {stream.RECONNECT_MS}")
    assert '"subject": "Resumed"' in text
    assert f'"id": {before.pk},' not in text  # the acknowledged one is not sent again


@pytest.mark.django_db(transaction=True)
def test_the_stream_delivers_an_event_committed_while_it_waits(now: datetime) -> None:
    viewer = as_user(factories.agent())
    author = as_user(factories.agent())
    ticket = factories.ticket(now=now)

    def later() -> None:
        services.reply(ticket, author=author, body="Arrives while the stream waits", now=now)

    async def scenario() -> str:
        client = AsyncClient()
        await client.aforce_login(viewer)
        response = await client.get("/live/stream")
        timer = threading.Timer(0.5, later)
        timer.start()
        try:
            return await _read(response, '"kind": "message_added"')
        finally:
            timer.join()

    assert f'"ticket": {ticket.number}' in async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_only_agents_get_a_stream(now: datetime) -> None:
    person = User.objects.create_user("not-an-agent", password=None)

    async def scenario() -> tuple[int, int]:
        anonymous = await AsyncClient().get("/live/stream")
        client = AsyncClient()
        await client.aforce_login(person)
        refused = await client.get("/live/stream")
        return anonymous.status_code, refused.status_code

    assert async_to_sync(scenario)() == (302, 403)


@pytest.mark.django_db(transaction=True)
def test_redis_wakes_the_hub_at_once(settings: object) -> None:
    """With REDIS_URL set, a publish after commit wakes the streams long before the fallback
    poll would."""
    require_server("127.0.0.1", 6379, "Redis")
    settings.REDIS_URL = REDIS_URL  # type: ignore[attr-defined]
    wake._redis_client = None

    async def scenario() -> float:
        hub = stream.Hub()
        hub.join()
        try:
            await asyncio.sleep(0.5)  # let it subscribe
            seen = hub.version
            loop = asyncio.get_running_loop()
            started = loop.time()
            loop.call_later(0.2, lambda: threading.Thread(target=wake.publish).start())
            moved = await hub.wait(seen, stream.REDIS_FALLBACK_POLL_SECONDS - 1)
            assert moved
            return loop.time() - started
        finally:
            hub.leave()

    try:
        elapsed = async_to_sync(scenario)()
    finally:
        wake._redis_client = None
    assert elapsed < stream.REDIS_FALLBACK_POLL_SECONDS - 1
