"""What every settings page does alike: who may see it, and where a service's refusal goes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest

from patron.core.errors import InvalidInput
from patron.people import permissions

INVALID_FORM = 400


def admin_of(request: HttpRequest) -> User:
    """The admin making the request; anyone else gets the 403 page with the reason."""
    permissions.check_administer(request.user)
    assert isinstance(request.user, User)
    return request.user


def refuse(form: Any, error: InvalidInput, *, at: Mapping[str, str] | None = None) -> None:
    """Put a service's refusal next to the field its message starts with (its label, or a
    beginning `at` names: {"There is already": "name"}), else on top."""
    message = str(error)
    for start, name in (at or {}).items():
        if message.startswith(start):
            form.add_error(name, message)
            return
    for name, field in form.fields.items():
        label = str(field.label or name.replace("_", " ").capitalize())
        if message.startswith(f"{label}:"):
            form.add_error(name, message.removeprefix(f"{label}:").strip())
            return
    form.add_error(None, message)
