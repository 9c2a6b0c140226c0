"""Errors a person can cause; each carries a message that person can read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction


class PatronError(Exception):
    """A change that cannot be made, with a reason fit to show the person who asked."""


class IllegalTransition(PatronError):
    """The ticket's state does not allow this change (closed, merged …)."""


class InvalidInput(PatronError):
    """The values given are wrong (an unknown field, a bad custom-field value …)."""


class NotAllowed(PermissionDenied):
    """The user's role or team does not allow this; rendered as a 403 with the reason."""


@contextmanager
def unique_or(message: str) -> Iterator[None]:
    """Run the block in its own transaction; a unique constraint it breaks becomes
    InvalidInput(message). A service checks first and says the same thing: this catches the
    write that raced it."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise InvalidInput(message) from None
