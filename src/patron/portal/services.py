"""The public web form's one change: check the abuse limits and the files, then open the ticket.

Contact and ticket are created in one transaction with the rate-limit record, so a refusal at
any step leaves nothing behind. `now` is always passed in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils.crypto import salted_hmac

from patron.core.errors import InvalidInput, PatronError
from patron.people import services as people
from patron.portal.models import WebFormSubmission
from patron.tickets import attachments
from patron.tickets import services as tickets
from patron.tickets.models import Channel, Ticket

MEGABYTE = 1024 * 1024
THANKS_SALT = "patron.portal.thanks"
# Long enough to come back to the confirmation page later that day, short enough that an old
# link found in a browser history says nothing.
THANKS_TOKEN_MAX_AGE = timedelta(days=7)


class RateLimited(PatronError):
    """Too many requests from one address or one network address in a short time."""

    def __init__(self, wait_minutes: int) -> None:
        self.wait_minutes = wait_minutes
        minutes = "1 minute" if wait_minutes == 1 else f"{wait_minutes} minutes"
        super().__init__(
            "You have sent several requests in a short time; "
            f"please wait {minutes} or reply to the email we sent you."
        )


@dataclass(frozen=True)
class Limit:
    count: int
    window: timedelta


@dataclass(frozen=True)
class WebRequest:
    """What a person typed into the web form, after the form has parsed it."""

    name: str
    email: str
    subject: str
    message: str
    uploads: Sequence[attachments.Upload] = ()
    custom_fields: Mapping[str, object] = field(default_factory=dict)


def address_limit() -> Limit:
    return Limit(
        count=settings.PATRON_WEB_FORM_ADDRESS_LIMIT,
        window=timedelta(minutes=settings.PATRON_WEB_FORM_ADDRESS_WINDOW_MINUTES),
    )


def ip_limit() -> Limit:
    return Limit(
        count=settings.PATRON_WEB_FORM_IP_LIMIT,
        window=timedelta(minutes=settings.PATRON_WEB_FORM_IP_WINDOW_MINUTES),
    )


def max_files() -> int:
    return int(settings.PATRON_WEB_FORM_MAX_FILES)


def max_upload_bytes() -> int:
    """All attachments of one request together."""
    return int(settings.PATRON_WEB_FORM_MAX_UPLOAD_MB) * MEGABYTE


def keyed_hash(kind: str, value: str) -> str:
    """A keyed hash, so the table never holds an address or an IP in clear."""
    return salted_hmac(f"patron.portal.{kind}", value.strip().lower()).hexdigest()


def _wait(key_field: str, key: str, limit: Limit, now: datetime) -> timedelta | None:
    """How long until one more request fits under `limit`, or None if it fits now."""
    recent = WebFormSubmission.objects.filter(**{key_field: key}, at__gt=now - limit.window)
    excess = recent.count() - limit.count
    if excess < 0:
        return None
    # The request fits once the excess+1 oldest submissions have left the window.
    oldest_to_expire = recent.order_by("at").values_list("at", flat=True)[excess]
    return oldest_to_expire + limit.window - now


def check_rate_limit(*, email: str, ip: str, now: datetime) -> None:
    """Raise RateLimited, saying how long to wait, when the address or the IP sent too many."""
    waits = [
        wait
        for wait in (
            _wait("address_hash", keyed_hash("address", email), address_limit(), now),
            _wait("ip_hash", keyed_hash("ip", ip), ip_limit(), now),
        )
        if wait is not None
    ]
    if waits:
        raise RateLimited(max(1, math.ceil(max(waits).total_seconds() / 60)))


def check_attachments(files: Sequence[tuple[str, int]]) -> None:
    """Refuse too many or too large files from their (name, size) before any is read."""
    if len(files) > max_files():
        raise InvalidInput(f"You can attach at most {max_files()} files; you chose {len(files)}.")
    limit = attachments.max_attachment_bytes()
    for filename, size in files:
        if size > limit:
            raise InvalidInput(
                f"{filename} is {size / MEGABYTE:.1f} MB; "
                f"attachments may be at most {limit / MEGABYTE:.0f} MB. Nothing was sent."
            )
    total = sum(size for _, size in files)
    if total > max_upload_bytes():
        raise InvalidInput(
            f"Your attachments add up to {total / MEGABYTE:.1f} MB; one request may carry at "
            f"most {max_upload_bytes() / MEGABYTE:.0f} MB. Nothing was sent."
        )


def submit_request(request: WebRequest, *, ip: str, now: datetime) -> Ticket:
    """Open a web ticket for the sender, matching their contact by address (any case)."""
    check_rate_limit(email=request.email, ip=ip, now=now)
    check_attachments([(u.filename, len(u.content)) for u in request.uploads])
    people.normalize_email(request.email)  # raises InvalidInput before anything is written
    with transaction.atomic():
        contact = people.get_or_create_contact(email=request.email, name=request.name, now=now)
        ticket = tickets.create_ticket(
            requester=contact,
            actor=None,
            subject=request.subject,
            body=request.message,
            now=now,
            channel=Channel.WEB,
            custom_fields=request.custom_fields,
            uploads=request.uploads,
        )
        WebFormSubmission.objects.create(
            at=now,
            address_hash=keyed_hash("address", request.email),
            ip_hash=keyed_hash("ip", ip),
        )
        longest = max(address_limit().window, ip_limit().window)
        WebFormSubmission.objects.filter(at__lt=now - longest).delete()
    return ticket


def thanks_token(ticket: Ticket) -> str:
    """A signed token naming the ticket: only whoever submitted the form holds it."""
    return signing.dumps({"number": ticket.number}, salt=THANKS_SALT)


def number_from_thanks_token(token: str) -> int | None:
    """The ticket number a token names, or None when it was tampered with or has expired."""
    try:
        payload = signing.loads(token, salt=THANKS_SALT, max_age=THANKS_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    number = payload.get("number") if isinstance(payload, dict) else None
    return number if isinstance(number, int) else None
