"""`{% if user|may_see_sla_report %}`: whether the top bar shows the SLA report link."""

from __future__ import annotations

from typing import Any

from django import template

from patron.people.permissions import may_see_reports as _may_see

register = template.Library()


@register.filter
def may_see_sla_report(user: Any) -> bool:
    return _may_see(user)
