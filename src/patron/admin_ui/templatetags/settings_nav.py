"""`{% if user|may_administer %}`: whether the top bar shows the Settings link."""

from __future__ import annotations

from typing import Any

from django import template

from patron.people import permissions

register = template.Library()


@register.filter
def may_administer(user: Any) -> bool:
    return permissions.is_admin(user)
