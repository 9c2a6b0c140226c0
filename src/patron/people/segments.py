"""Segments: stored rules over contacts, organizations or tickets, turned into queries.

A rule is `{"all": [condition, …]}` or `{"any": [condition, …]}`; a condition is
`{"field": name, "op": "eq"|"ne"|"in"|"contains", "value": …}`. Field names are the same for
every target (`relationship`, `tier`, `organization`, `language`, `custom.<key>`); each target
knows how to reach them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.db.models import Q

from patron.core.errors import InvalidInput
from patron.people.models import Relationship

OPS = ("eq", "ne", "in", "contains")
# A custom-field key as admins write it; no "__", which the ORM would read as a lookup.
CUSTOM_KEY = re.compile(r"[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*")

# Where each field lives, seen from each target model.
_PATHS: dict[str, dict[str, str]] = {
    "organization": {
        "tier": "tier",
        "organization": "name",
        "custom": "custom_fields",
    },
    "contact": {
        "tier": "organization__tier",
        "organization": "organization__name",
        "language": "language",
        "custom": "custom_fields",
    },
    "ticket": {
        "tier": "organization__tier",
        "organization": "organization__name",
        "language": "requester__language",
        "status": "status",
        "priority": "priority",
        "channel": "channel",
        "custom": "custom_fields",
    },
}


def _relationship_q(target: str, value: str) -> Q:
    """A contact's own relationship, else its organization's, else customer."""
    if target == "organization":
        return Q(relationship=value)
    prefix = "" if target == "contact" else "requester__"
    own = Q(**{f"{prefix}relationship_override": value})
    inherited = Q(**{f"{prefix}relationship_override": ""}) & Q(
        **{f"{prefix}organization__relationship": value}
    )
    q = own | inherited
    if value == Relationship.CUSTOMER:
        q |= Q(**{f"{prefix}relationship_override": ""}) & Q(
            **{f"{prefix}organization__isnull": True}
        )
    return q


def _path(target: str, field: str) -> str:
    """The ORM path of a field as seen from the target model."""
    paths = _PATHS[target]
    if field.startswith("custom."):
        key = field.removeprefix("custom.")
        if not CUSTOM_KEY.fullmatch(key):
            raise InvalidInput(f"{field!r} does not name a custom field; write custom.<key>.")
        return f"{paths['custom']}__{key}"
    if field in paths:
        return paths[field]
    raise InvalidInput(f"A {target} segment cannot use the field {field!r}.")


def _condition_q(target: str, condition: Mapping[str, Any]) -> Q:
    field, op, value = condition.get("field"), condition.get("op", "eq"), condition.get("value")
    if op not in OPS:
        raise InvalidInput(f"Unknown operator {op!r}; use one of {', '.join(OPS)}.")
    if not isinstance(field, str) or not field:
        raise InvalidInput("Each condition needs a field.")
    if op == "in":
        values = value if isinstance(value, list) else [value]
        return _or([_condition_q(target, {"field": field, "op": "eq", "value": v}) for v in values])
    if op == "ne":
        different = ~_condition_q(target, {"field": field, "op": "eq", "value": value})
        if field.startswith("custom."):
            # SQL's NOT drops rows that lack the key; they differ from the value too.
            different |= Q(**{f"{_path(target, field)}__isnull": True})
        return different
    if field == "relationship":
        if value not in Relationship.values:
            raise InvalidInput(f"Relationship must be client or customer, not {value!r}.")
        return _relationship_q(target, str(value))
    path = _path(target, field)
    lookup = "icontains" if op == "contains" else "iexact" if isinstance(value, str) else "exact"
    return Q(**{f"{path}__{lookup}": value})


def _or(parts: list[Q]) -> Q:
    result = Q(pk__in=[])
    for part in parts:
        result |= part
    return result


def rule_q(target: str, rule: Mapping[str, Any]) -> Q:
    """The Q object that selects `target` rows (contact, organization, ticket) matching `rule`."""
    if target not in _PATHS:
        raise InvalidInput(f"Segments apply to contacts, organizations or tickets, not {target}.")
    if "any" in rule:
        return _or([_condition_q(target, c) for c in rule["any"]])
    result = Q()
    for condition in rule.get("all", []):
        result &= _condition_q(target, condition)
    return result


BUILTIN_SEGMENTS = (
    {
        "slug": "clients",
        "name": "Clients",
        "description": "People and organizations with a formal agreement and an account manager.",
        "rule": {"all": [{"field": "relationship", "op": "eq", "value": "client"}]},
    },
    {
        "slug": "customers",
        "name": "Customers",
        "description": "Everyone we serve transaction by transaction.",
        "rule": {"all": [{"field": "relationship", "op": "eq", "value": "customer"}]},
    },
)
