"""Webhooks out against a real HTTP server on 127.0.0.1: each subscribed event is POSTed as
signed JSON, failures are retried with backoff and logged, a receiver that was down gets every
delivery once it is back, repeated failure switches the webhook off, an admin can send again."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth.models import User

from patron.core import clock as patron_clock
from patron.core import consumers
from patron.core.errors import InvalidInput, NotAllowed
from patron.core.models import EventDelivery
from patron.people.models import Role
from patron.tickets import services as tickets
from patron.tickets.models import TicketEvent
from patron.webhooks import services, tasks
from patron.webhooks.models import Webhook, WebhookDelivery
from tests import factories

pytestmark = pytest.mark.django_db


class Receiver:
    """A real HTTP server that records every POST and answers with the statuses it is given
    (then 200)."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.requests.append((dict(self.headers.items()), body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                if status in (301, 302, 307, 308):
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.end_headers()
                self.wfile.write(b"thanks" if status == 200 else b"not now")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def admin() -> User:
    user = factories.agent(Role.ADMIN, password=None)
    assert isinstance(user, User)
    return user


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def near(instant: datetime | None, expected: datetime) -> bool:
    """The test clock runs on from where it is set: a few milliseconds pass."""
    return instant is not None and abs(instant - expected) < timedelta(seconds=2)


def _hook(admin: User, url: str, now: datetime, kinds: list[str] | None = None) -> Webhook:
    return services.save_webhook(
        None, {"name": "CRM", "url": url, "kinds": kinds or ["created"]}, actor=admin, now=now
    )


def test_an_event_no_webhook_wants_gets_no_receipt_for_webhooks(
    admin: User, now: datetime, run_on_commit: Callable[[], Any]
) -> None:
    with run_on_commit():
        before = factories.ticket(now=now)
    assert not EventDelivery.objects.filter(consumer="webhooks").exists()
    hook = _hook(admin, "http://127.0.0.1:9/hook", now, kinds=["message_added"])
    created = TicketEvent.objects.get(ticket=before, kind="created")
    assert "webhooks" not in consumers.consumers_for("created", event=created)
    services.save_webhook(hook, {"kinds": []}, actor=admin, now=now)  # every kind
    assert "webhooks" in consumers.consumers_for("created", event=created)
    services.save_webhook(hook, {"active": False}, actor=admin, now=now)
    assert "webhooks" not in consumers.consumers_for("created", event=created)


def test_a_subscribed_event_is_posted_as_signed_json_and_logged(
    receiver: Receiver, admin: User, now: datetime, run_on_commit: Callable[[], Any]
) -> None:
    hook = _hook(admin, receiver.url, now)
    agent = factories.agent(Role.AGENT)
    with run_on_commit():
        ticket = factories.ticket(now=now, subject="Card blocked abroad")
    with run_on_commit():
        tickets.add_note(ticket, author=agent, body="Called the bank", now=now)  # not subscribed

    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Patron-Event"] == "created"
    assert services.verify(hook.secret, headers["X-Patron-Signature"], body, now=now.timestamp())
    assert not services.verify("another secret", headers["X-Patron-Signature"], body,
                               now=now.timestamp())  # fmt: skip
    assert not services.verify(hook.secret, headers["X-Patron-Signature"], body + b" ",
                               now=now.timestamp())  # fmt: skip
    stale = now.timestamp() + services.SIGNATURE_TOLERANCE_SECONDS + 1
    assert not services.verify(hook.secret, headers["X-Patron-Signature"], body, now=stale)
    sent = receiver.payloads()[0]
    assert sent["event"]["kind"] == "created"
    assert sent["ticket"]["number"] == ticket.number
    assert sent["ticket"]["subject"] == "Card blocked abroad"
    assert sent["ticket"]["url"].endswith(f"/tickets/{ticket.number}")
    assert sent["delivery"] == int(headers["X-Patron-Delivery"])

    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("sent", 1, 200)
    assert delivery.last_response == "thanks"


def test_failures_are_retried_with_backoff_and_every_answer_logged(
    receiver: Receiver, admin: User, now: datetime, run_on_commit: Callable[[], Any]
) -> None:
    _hook(admin, receiver.url, now)
    receiver.answers = [500, 503]
    with run_on_commit():
        factories.ticket(now=now)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
    assert near(delivery.next_attempt_at, now + timedelta(seconds=30))
    assert "HTTP 500" in delivery.last_error

    # Not yet due: nothing is sent.
    with patron_clock.travel_to(now + timedelta(seconds=20)):
        assert tasks.send_due_webhooks.call() == 0
    with patron_clock.travel_to(now + timedelta(seconds=31)):
        assert tasks.send_due_webhooks.call() == 0
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status) == (2, 503)
    assert near(delivery.next_attempt_at, now + timedelta(seconds=31 + 60))
    with patron_clock.travel_to(now + timedelta(seconds=93)):
        assert tasks.send_due_webhooks.call() == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("sent", 3, 200)
    assert len(receiver.requests) == 3
    # The same delivery each time: the receiver can tell a retry from a new event.
    assert len({headers["X-Patron-Delivery"] for headers, _ in receiver.requests}) == 1


def test_a_receiver_that_was_down_gets_every_delivery_once_it_is_back(
    admin: User, now: datetime, run_on_commit: Callable[[], Any]
) -> None:
    port = _free_port()
    _hook(admin, f"http://127.0.0.1:{port}/hook", now)
    with run_on_commit():
        numbers = {factories.ticket(now=now).number for _ in range(3)}
    at = now
    for _ in range(3):  # down for a while: every try fails, and is logged
        at += timedelta(minutes=5)
        with patron_clock.travel_to(at):
            tasks.send_due_webhooks.call()
    waiting = WebhookDelivery.objects.filter(state="pending")
    assert waiting.count() == 3
    assert all("Could not reach the receiver" in d.last_error for d in waiting)

    back = Receiver(port)
    try:
        with patron_clock.travel_to(at + timedelta(hours=1)):
            assert tasks.send_due_webhooks.call() == 3
            assert tasks.send_due_webhooks.call() == 0
    finally:
        back.close()
    assert {p["ticket"]["number"] for p in back.payloads()} == numbers
    assert len(back.requests) == 3
    assert WebhookDelivery.objects.filter(state="sent").count() == 3


def test_repeated_failure_switches_the_webhook_off_until_an_admin_turns_it_on(
    receiver: Receiver,
    admin: User,
    now: datetime,
    run_on_commit: Callable[[], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(services, "MAX_ATTEMPTS", 1)
    monkeypatch.setattr(services, "DISABLE_AFTER", 2)
    hook = _hook(admin, receiver.url, now)
    receiver.answers = [500, 500]
    with run_on_commit():
        factories.ticket(now=now)
        factories.ticket(now=now)
    assert WebhookDelivery.objects.filter(state="failed").count() == 2
    assert "Gave up after 1 attempts" in WebhookDelivery.objects.first().last_error  # type: ignore[union-attr]
    hook.refresh_from_db()
    assert not hook.active
    assert near(hook.disabled_at, now)
    assert "2 deliveries in a row" in hook.disabled_reason
    with run_on_commit():
        factories.ticket(now=now)
    assert WebhookDelivery.objects.count() == 2  # a switched-off webhook gets nothing new

    hook = services.save_webhook(hook, {"active": True}, actor=admin, now=now)
    assert (hook.consecutive_failures, hook.disabled_at, hook.disabled_reason) == (0, None, "")


def test_an_admin_sends_a_given_up_delivery_again(
    receiver: Receiver,
    admin: User,
    now: datetime,
    run_on_commit: Callable[[], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(services, "MAX_ATTEMPTS", 1)
    _hook(admin, receiver.url, now)
    receiver.answers = [302]  # a redirect is an answer, not followed
    with run_on_commit():
        factories.ticket(now=now)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.last_status) == ("failed", 302)
    assert len(receiver.requests) == 1

    with pytest.raises(NotAllowed):
        services.resend(delivery, actor=factories.agent(Role.AGENT), now=now)  # type: ignore[arg-type]
    with run_on_commit():
        services.resend(delivery, actor=admin, now=now)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("sent", 1, 200)
    assert len(receiver.requests) == 2


def test_a_webhook_is_refused_with_a_reason_for_bad_settings(admin: User, now: datetime) -> None:
    with pytest.raises(InvalidInput, match="http:// or https://"):
        _hook(admin, "ftp://example.com/hook", now)
    with pytest.raises(InvalidInput, match="no event kind nonsense"):
        _hook(admin, "https://example.com/hook", now, kinds=["created", "nonsense"])
    with pytest.raises(NotAllowed):
        _hook(factories.agent(Role.SUPERVISOR), "https://example.com/hook", now)  # type: ignore[arg-type]
    hook = _hook(admin, "https://example.com/hook", now)
    assert len(hook.secret) == 64
    with pytest.raises(InvalidInput, match="already a webhook"):
        services.save_webhook(
            None, {"name": "crm", "url": "https://example.com/b"}, actor=admin, now=now
        )
    old = hook.secret
    assert services.rotate_secret(hook, actor=admin) != old
