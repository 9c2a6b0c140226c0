"""Changes an agent makes to their notifications: marking them read, and their settings (who
may change them, and what that resets)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser

from patron.core.errors import InvalidInput, NotAllowed
from patron.notifications.models import Notification
from patron.people import permissions
from patron.people.models import AgentProfile, EmailDigest


def mark_read(user: AbstractBaseUser, ids: Iterable[int], now: datetime) -> int:
    """Mark some of the user's own notifications read; others' ids are ignored."""
    return Notification.objects.filter(
        recipient_id=user.pk, pk__in=list(ids), read_at__isnull=True
    ).update(read_at=now)


def mark_all_read(user: AbstractBaseUser, now: datetime) -> int:
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).update(
        read_at=now
    )


def check_change_settings(actor: AbstractBaseUser, profile: AgentProfile) -> None:
    """An agent changes their own notification settings; an admin anyone's."""
    mine = permissions.is_agent(actor) and profile.user_id == actor.pk
    if not (mine or permissions.is_admin(actor)):
        raise NotAllowed("Agents change only their own notification settings.")


def set_email_digest(profile: AgentProfile, *, actor: AbstractBaseUser, frequency: str) -> bool:
    """Choose how often the agent's digest is emailed; return whether it changed.

    Turning the digest back on forgets the last digest, so the first one looks back one period
    (see `digest.FIRST_LOOKBACK`) instead of listing everything unread since it was turned off.
    """
    check_change_settings(actor, profile)
    if frequency not in EmailDigest.values:
        raise InvalidInput(
            f"Email digest must be one of {', '.join(EmailDigest.values)}, not {frequency!r}."
        )
    if frequency == profile.email_digest:
        return False
    fields = ["email_digest"]
    if profile.email_digest == EmailDigest.OFF:
        profile.last_digest_at = profile.last_digest_notification_id = None
        fields += ["last_digest_at", "last_digest_notification_id"]
    profile.email_digest = frequency
    profile.save(update_fields=fields)
    return True
