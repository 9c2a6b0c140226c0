"""Changes to an agent's notification settings: who may make them, and what they reset."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from patron.core import permissions
from patron.core.errors import InvalidInput, NotAllowed
from patron.people.models import AgentProfile, EmailDigest


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
