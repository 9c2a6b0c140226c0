"""`{% live_since %}`: the newest event id when the page was rendered, where its stream starts;
`{% sla_refresh_seconds %}`: how often the page re-renders its running SLA badges."""

from __future__ import annotations

from django import template
from django.conf import settings

from patron.workspace import live

register = template.Library()


@register.simple_tag
def live_since() -> int:
    return live.latest_event_id()


@register.simple_tag
def sla_refresh_seconds() -> int:
    return int(settings.PATRON_SLA_BADGE_REFRESH_SECONDS)
