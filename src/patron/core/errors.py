"""Errors a person can cause; each carries a message that person can read."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied


class PatronError(Exception):
    """A change that cannot be made, with a reason fit to show the person who asked."""


class IllegalTransition(PatronError):
    """The ticket's state does not allow this change (closed, merged …)."""


class InvalidInput(PatronError):
    """The values given are wrong (an unknown field, a bad custom-field value …)."""


class NotAllowed(PermissionDenied):
    """The user's role or team does not allow this; rendered as a 403 with the reason."""
