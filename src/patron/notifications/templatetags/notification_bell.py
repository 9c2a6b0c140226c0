"""`{% notification_bell %}`: the top bar's bell with the viewer's unread count."""

from __future__ import annotations

from typing import Any

from django import template

from patron.notifications import queries as notifications
from patron.people import permissions

register = template.Library()


@register.inclusion_tag("notifications/_bell.html", takes_context=True)
def notification_bell(context: Any) -> dict[str, Any]:
    user = context["request"].user
    count = notifications.unread_count(user) if permissions.is_agent(user) else 0
    return {"unread_count": count}
