"""The unread-notification digest: one plain-text email per agent, as often as they chose.

An agent's digest is due once per clock hour (hourly) or once a day after `DAILY_HOUR` in their
time zone (daily). It lists what is still unread among the notifications written since their
last digest, found by notification id (see `AgentProfile.last_digest_notification_id`), so no
notification is in two digests and a missed run is caught up by the next one.

Each agent's digest is claimed with a conditional UPDATE of their last-digest fields, and its
email is queued as an `OutboundMail` row (`mail.outbound.queue_mail`) in the same transaction:
two runs at once (the periodic job and the command) queue it once, and a crash either keeps
both or neither, so a digest is never lost nor doubled. From the row on it takes the road of
every reply: sent after the commit, retried with backoff while the SMTP server is down or
answers 4xx, failed with the server's answer on a 5xx, from the desk's default mailbox (or, on
a desk without one, the site's mailer and `PATRON_EMAIL_FROM`).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.urls import reverse

from patron.mail import outbound
from patron.mail.models import OutboundMail
from patron.notifications import queries as notifications
from patron.notifications.models import Notification
from patron.people.models import AgentProfile, EmailDigest

# Daily digests go out in the first run at or after this hour, in the agent's time zone.
DAILY_HOUR = 8
# An agent's first digest (or first after turning it back on) looks back this far.
FIRST_LOOKBACK = {EmailDigest.HOURLY: timedelta(hours=1), EmailDigest.DAILY: timedelta(days=1)}
# Longer digests list the newest this many and say how many more there are.
MAX_LINES = 50


def time_zone_of(profile: AgentProfile) -> tzinfo:
    """The agent's own time zone, else the desk's."""
    for name in (profile.time_zone, settings.TIME_ZONE):
        if name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


def period_start(frequency: str, now: datetime, zone: tzinfo) -> datetime | None:
    """The start of the digest period `now` falls in: the clock hour (hourly), or the latest
    `DAILY_HOUR` o'clock in `zone` (daily); None when the digest is off."""
    if frequency == EmailDigest.HOURLY:
        return now.replace(minute=0, second=0, microsecond=0)
    if frequency == EmailDigest.DAILY:
        local = now.astimezone(zone)
        start = local.replace(hour=DAILY_HOUR, minute=0, second=0, microsecond=0)
        if start > local:
            start = (local - timedelta(days=1)).replace(
                hour=DAILY_HOUR, minute=0, second=0, microsecond=0
            )
        return start
    return None


def is_due(frequency: str, last_digest_at: datetime | None, now: datetime, zone: tzinfo) -> bool:
    """Whether an agent's digest is due at `now`: on, and none yet in the current period."""
    start = period_start(frequency, now, zone)
    if start is None:
        return False
    return last_digest_at is None or last_digest_at < start


def due_profiles(now: datetime) -> list[AgentProfile]:
    """Active agents with an address whose digest is due at `now`."""
    candidates = (
        AgentProfile.objects.filter(
            email_digest__in=[EmailDigest.HOURLY, EmailDigest.DAILY], user__is_active=True
        )
        .exclude(user__email="")
        .select_related("user")
        .order_by("pk")
    )
    return [
        profile
        for profile in candidates
        if is_due(profile.email_digest, profile.last_digest_at, now, time_zone_of(profile))
    ]


def pending_for(
    profile: AgentProfile, *, now: datetime, newest_id: int, since: timedelta | None = None
) -> QuerySet[Notification]:
    """The agent's unread notifications their next digest covers, newest first: written after
    their last digest and up to `newest_id`; for a first digest, created in the look-back; with
    `since`, none created before `now - since`."""
    found = notifications.unread(profile.user).filter(pk__lte=newest_id)
    if profile.last_digest_notification_id is not None:
        found = found.filter(pk__gt=profile.last_digest_notification_id)
    else:
        lookback = FIRST_LOOKBACK.get(EmailDigest(profile.email_digest), timedelta(days=1))
        found = found.filter(created_at__gt=now - lookback)
    if since is not None:
        found = found.filter(created_at__gte=now - since)
    return found


def _unchanged(profile: AgentProfile) -> Q:
    """The profile row as this run read it: the condition of the claim."""
    return (
        Q(pk=profile.pk, email_digest=profile.email_digest)
        & _equals_or_null("last_digest_at", profile.last_digest_at)
        & _equals_or_null("last_digest_notification_id", profile.last_digest_notification_id)
    )


def _equals_or_null(field: str, value: object) -> Q:
    return Q(**{f"{field}__isnull": True}) if value is None else Q(**{field: value})


@dataclass(frozen=True)
class Digest:
    subject: str
    body: str


def compose(user: User, items: list[Notification], total: int) -> Digest:
    """The email: a sentence and a link per notification, the newest `MAX_LINES` of `total`."""
    site = settings.PATRON_SITE_URL.rstrip("/")
    lines = [
        f"- {line.text}\n  {site}{reverse('ticket_detail', args=[line.notification.ticket.number])}"
        for line in notifications.lines(items)
    ]
    if total > len(items):
        lines.append(f"- and {total - len(items)} more")
    plural = "s" if total != 1 else ""
    body = (
        f"Hello {user.get_full_name() or user.get_username()},\n\n"
        f"You have {total} unread notification{plural} in Patron:\n\n"
        + "\n".join(lines)
        + f"\n\nSee them all: {site}{reverse('notification_list')}\n"
        + f"Change how often you get this email: {site}{reverse('notification_settings')}\n"
    )
    return Digest(subject=f"Patron: {total} unread notification{plural}", body=body)


def send_digests(*, now: datetime, since: timedelta | None = None) -> int:
    """Queue every digest that is due at `now`; return how many emails were queued.

    Agents who turned the digest off, are inactive or have no address get nothing; a due agent
    with nothing new unread gets no email, but their period counts as done. `since` (the
    command's `--since-hours`) leaves out notifications created before `now - since`."""
    newest_id = Notification.objects.aggregate(newest=Max("id"))["newest"] or 0
    queued = 0
    for profile in due_profiles(now):
        pending = pending_for(profile, now=now, newest_id=newest_id, since=since)
        items = list(pending[:MAX_LINES])
        total = len(items) if len(items) < MAX_LINES else pending.count()
        digest = compose(profile.user, items, total) if items else None
        with transaction.atomic():  # the period is done exactly when its email is queued
            claimed = AgentProfile.objects.filter(_unchanged(profile)).update(
                last_digest_at=now, last_digest_notification_id=newest_id
            )
            if claimed != 1 or digest is None:
                continue  # another run took this digest, the agent changed it, or nothing to say
            outbound.queue_mail(
                to=[profile.user.email],
                subject=digest.subject,
                body=digest.body,
                kind=OutboundMail.Kind.DIGEST,
                now=now,
            )
        queued += 1
    return queued
