"""`{% live_since %}`: the newest event id when the page was rendered, where its stream starts."""

from __future__ import annotations

from django import template

from patron.core import live

register = template.Library()


@register.simple_tag
def live_since() -> int:
    return live.latest_event_id()
