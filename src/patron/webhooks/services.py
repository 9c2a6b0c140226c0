"""Webhooks out: every ticket event a subscription asks for is POSTed to its URL as JSON, signed
with HMAC-SHA256, from a task (never inside a request), retried with backoff, logged.

The `webhooks` consumer writes one `WebhookDelivery` row per subscription and event, in the
delivery's transaction, and enqueues its send after commit; the periodic `send_due_webhooks`
job sends whatever is due (retries, and rows whose task was lost). Sending is claimed with a
conditional UPDATE that pushes the next attempt a lease ahead, so two workers never send one
delivery at once, and a worker killed mid-send leaves it to be retried after the lease. The
receiver may therefore get a delivery twice: the `X-Patron-Delivery` header is the same both
times, so it can drop the second. A delivery given up after MAX_ATTEMPTS counts against its
webhook; DISABLE_AFTER of them in a row switch the webhook off, with the reason shown to admins.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F

from patron.core import backoff as core_backoff
from patron.core.errors import InvalidInput
from patron.people import permissions
from patron.tickets import sentences
from patron.tickets.models import EventKind, TicketEvent
from patron.webhooks.models import Webhook, WebhookDelivery

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Patron-Signature"
TIMEOUT_SECONDS = 10
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 10  # 30 s, 1, 2, 4 … 60 min: given up after about four and a half hours
DISABLE_AFTER = 5  # deliveries given up in a row before the webhook is switched off
LEASE = timedelta(minutes=2)  # far above TIMEOUT_SECONDS
SEND_BATCH = 200
RESPONSE_KEPT = 1024  # bytes of the receiver's answer kept in the log
SIGNATURE_TOLERANCE_SECONDS = 300
PAYLOAD_VERSION = 1


# --- subscriptions ------------------------------------------------------------------------


def new_secret() -> str:
    return secrets.token_hex(32)


def clean_kinds(kinds: object) -> list[str]:
    if not isinstance(kinds, list | tuple):
        raise InvalidInput("Events: give a list of event kinds (none: every kind).")
    unknown = sorted(set(map(str, kinds)) - set(EventKind.values))
    if unknown:
        raise InvalidInput(f"Events: there is no event kind {', '.join(unknown)}.")
    return sorted(set(map(str, kinds)))


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("URL: give an http:// or https:// address.")
    return url


def save_webhook(
    row: Webhook | None, values: Mapping[str, Any], *, actor: User, now: datetime
) -> Webhook:
    """Create (row=None) or change a webhook: name, url, kinds, active. Switching a disabled
    webhook on again clears its failures; its waiting deliveries go out at the next run."""
    permissions.check_administer(actor)
    unknown = sorted(set(values) - {"name", "url", "kinds", "active"})
    if unknown:
        raise InvalidInput(f"A webhook has no setting {', '.join(unknown)}.")
    hook = row if row is not None else Webhook(secret=new_secret(), created_at=now)
    was_active = hook.active if row is not None else False
    if "name" in values:
        hook.name = str(values["name"]).strip()
    if not hook.name:
        raise InvalidInput("Name: give the webhook a name.")
    if "url" in values:
        hook.url = check_url(str(values["url"]))
    if not hook.url:
        raise InvalidInput("URL: give an http:// or https:// address.")
    if "kinds" in values:
        hook.kinds = clean_kinds(values["kinds"])
    if "active" in values:
        hook.active = bool(values["active"])
    if hook.active and not was_active:
        hook.consecutive_failures = 0
        hook.disabled_at = None
        hook.disabled_reason = ""
    if Webhook.objects.filter(name__iexact=hook.name).exclude(pk=hook.pk).exists():
        raise InvalidInput(f"Name: there is already a webhook {hook.name}.")
    try:
        with transaction.atomic():
            hook.save()
    except IntegrityError:
        raise InvalidInput(f"Name: there is already a webhook {hook.name}.") from None
    return hook


def rotate_secret(hook: Webhook, *, actor: User) -> str:
    permissions.check_administer(actor)
    hook.secret = new_secret()
    hook.save(update_fields=["secret"])
    return hook.secret


def delete_webhook(hook: Webhook, *, actor: User) -> None:
    permissions.check_administer(actor)
    hook.delete()


# --- the consumer ---------------------------------------------------------------------------


def wanted(event: TicketEvent) -> bool:
    """Whether any active webhook asks for this event's kind: asked as the event is recorded,
    so a desk without webhooks writes no receipt for them (one query on a tiny table)."""
    kinds = Webhook.objects.filter(active=True).values_list("kinds", flat=True)
    return any(not chosen or event.kind in chosen for chosen in kinds)


def queue_deliveries(event: TicketEvent) -> None:
    """The `webhooks` consumer: a delivery row for every active webhook that asks for this
    event's kind (idempotent: one per webhook and event), sent after commit."""
    hooks = [
        h.pk for h in Webhook.objects.filter(active=True) if not h.kinds or event.kind in h.kinds
    ]
    if not hooks:
        return
    now = event.at
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(webhook_id=pk, event=event, next_attempt_at=now, created_at=now)
            for pk in hooks
        ],
        ignore_conflicts=True,
    )
    ids = list(
        WebhookDelivery.objects.filter(
            event=event, webhook_id__in=hooks, state=WebhookDelivery.State.PENDING, attempts=0
        ).values_list("pk", flat=True)
    )
    transaction.on_commit(lambda: _enqueue(ids))


def _enqueue(ids: list[int]) -> None:
    from patron.webhooks.tasks import send_webhook

    for pk in ids:
        send_webhook.enqueue(pk)


# --- the payload and its signature -----------------------------------------------------------


def payload(delivery: WebhookDelivery) -> dict[str, Any]:
    """What the receiver gets (docs/webhooks.md has the schema)."""
    event = delivery.event
    ticket = event.ticket
    site = settings.PATRON_SITE_URL.rstrip("/")
    requester = ticket.requester
    return {
        "version": PAYLOAD_VERSION,
        "delivery": delivery.pk,
        "webhook": delivery.webhook.name,
        "event": {
            "id": event.pk,
            "kind": event.kind,
            "at": event.at.isoformat(),
            "actor": {"kind": event.actor_kind, "name": event.actor_label()},
            "text": sentences.describe(event),
            "data": event.data or {},
        },
        "ticket": {
            "number": ticket.number,
            "subject": ticket.subject,
            "status": ticket.status,
            "priority": ticket.priority,
            "type": ticket.type or None,
            "channel": ticket.channel,
            "team": ticket.team.name if ticket.team is not None else None,
            "assignee": ticket.assignee.get_username() if ticket.assignee is not None else None,
            "requester": {"name": requester.name, "email": requester.primary_email},
            "organization": ticket.organization.name if ticket.organization is not None else None,
            "tags": sorted(ticket.tags.values_list("name", flat=True)),
            "created_at": ticket.created_at.isoformat(),
            "updated_at": ticket.updated_at.isoformat(),
            "url": f"{site}/tickets/{ticket.number}",
        },
    }


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(payload(delivery), separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, body: bytes, *, timestamp: int) -> str:
    """The signature header's value: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: float | None = None) -> bool:
    """What a receiver checks (in any language: docs/webhooks.md): the signature matches and
    is no older than SIGNATURE_TOLERANCE_SECONDS."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    expected = sign(secret, body, timestamp=timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


# --- sending ----------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is the receiver's answer, logged as a failure; never followed


_opener = urllib.request.build_opener(_NoRedirects)


def backoff(attempts: int) -> timedelta:
    return core_backoff.backoff(attempts, first=BACKOFF_FIRST, maximum=BACKOFF_MAX)


def claim(delivery_id: int, *, now: datetime) -> bool:
    """Take a due delivery of an active webhook: one conditional UPDATE, one winner."""
    updated = WebhookDelivery.objects.filter(
        pk=delivery_id,
        state=WebhookDelivery.State.PENDING,
        next_attempt_at__lte=now,
        webhook__active=True,
    ).update(next_attempt_at=now + LEASE, attempts=F("attempts") + 1, last_attempt_at=now)
    return updated == 1


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int | None, str, str]:
    """(HTTP status or None, the answer's first bytes, an error sentence or "")."""
    request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.read(RESPONSE_KEPT).decode(errors="replace"), ""
    except urllib.error.HTTPError as error:
        answer = error.read(RESPONSE_KEPT).decode(errors="replace") if error.fp else ""
        return error.code, answer, f"The receiver answered HTTP {error.code}."
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return None, "", f"Could not reach the receiver: {reason}."


def send(delivery_id: int, *, now: datetime) -> str:
    """Send one due delivery; return its state afterwards ("skipped" if not ours to send)."""
    if not claim(delivery_id, now=now):
        return "skipped"
    delivery = WebhookDelivery.objects.select_related(
        "webhook", "event__ticket__requester", "event__ticket__team",
        "event__ticket__assignee", "event__ticket__organization",
    ).get(pk=delivery_id)  # fmt: skip
    hook = delivery.webhook
    body = body_of(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Patron-Webhook/1",
        "X-Patron-Event": delivery.event.kind,
        "X-Patron-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: sign(hook.secret, body, timestamp=int(now.timestamp())),
    }
    status, answer, error = _post(hook.url, body, headers)
    if status is not None and 200 <= status < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=WebhookDelivery.State.SENT, sent_at=now, next_attempt_at=now,
            last_status=status, last_response=answer, last_error="",
        )  # fmt: skip
        Webhook.objects.filter(pk=hook.pk).update(consecutive_failures=0)
        return WebhookDelivery.State.SENT
    if not error:
        error = f"The receiver answered HTTP {status}; only 2xx counts as received."
    logger.warning("Webhook %s, delivery %s: %s", hook.name, delivery.pk, error)
    return _record_failure(delivery, status=status, answer=answer, error=error, now=now)


def _record_failure(
    delivery: WebhookDelivery, *, status: int | None, answer: str, error: str, now: datetime
) -> str:
    if delivery.attempts < MAX_ATTEMPTS:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=now + backoff(delivery.attempts),
            last_status=status, last_response=answer, last_error=error,
        )  # fmt: skip
        return WebhookDelivery.State.PENDING
    given_up = f"Gave up after {delivery.attempts} attempts. Last: {error}"
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=WebhookDelivery.State.FAILED, next_attempt_at=now,
        last_status=status, last_response=answer, last_error=given_up,
    )  # fmt: skip
    with transaction.atomic():
        hook = Webhook.objects.select_for_update().get(pk=delivery.webhook_id)
        hook.consecutive_failures += 1
        if hook.active and hook.consecutive_failures >= DISABLE_AFTER:
            hook.active = False
            hook.disabled_at = now
            hook.disabled_reason = (
                f"Switched off after {hook.consecutive_failures} deliveries in a row were given"
                f" up. The last: {error}"
            )
            logger.error("Webhook %s switched off: %s", hook.name, hook.disabled_reason)
        hook.save(
            update_fields=["consecutive_failures", "active", "disabled_at", "disabled_reason"]
        )
    return WebhookDelivery.State.FAILED


def send_due(*, now: datetime, limit: int = SEND_BATCH) -> int:
    """Send every due delivery of an active webhook, oldest first; return how many went out.
    Once a webhook's receiver cannot be reached, its other deliveries wait for the next run."""
    due = (
        WebhookDelivery.objects.filter(
            state=WebhookDelivery.State.PENDING, next_attempt_at__lte=now, webhook__active=True
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", "webhook_id")[:limit]
    )
    down: set[int] = set()
    sent = 0
    for delivery_id, hook_id in list(due):
        if hook_id in down:
            continue
        state = send(delivery_id, now=now)
        if state == WebhookDelivery.State.PENDING:
            down.add(hook_id)
        sent += state == WebhookDelivery.State.SENT
    return sent


def resend(delivery: WebhookDelivery, *, actor: User, now: datetime) -> None:
    """An admin sends a delivery again, now, whatever became of it (a fresh count of attempts)."""
    permissions.check_administer(actor)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=WebhookDelivery.State.PENDING, attempts=0, next_attempt_at=now
    )
    transaction.on_commit(lambda: _enqueue([delivery.pk]))
