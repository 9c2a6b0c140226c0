"""The one JSON shape of a rule, parsed and checked before anything reads it.

A rule is a group: `{"all": [node, …]}` (every node holds) or `{"any": [node, …]}` (at least
one holds). A node is another group or a condition `{"field": name, "op": operator, "value": v}`.
`{}` is the empty "all": it matches everything; an empty "any" matches nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from patron.core.errors import InvalidInput

MATCHES = ("all", "any")
OPS = ("eq", "ne", "in", "contains", "before", "after")
MAX_DEPTH = 6  # groups inside groups; deeper is a mistake, not a rule
MAX_CONDITIONS = 200


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any

    def dump(self) -> dict[str, Any]:
        return {"field": self.field, "op": self.op, "value": self.value}


@dataclass(frozen=True)
class Group:
    match: str  # "all" or "any"
    nodes: tuple[Condition | Group, ...]

    def dump(self) -> dict[str, Any]:
        return {self.match: [node.dump() for node in self.nodes]}

    def conditions(self) -> list[Condition]:
        """Every condition, however deep."""
        found: list[Condition] = []
        for node in self.nodes:
            found.extend(node.conditions() if isinstance(node, Group) else [node])
        return found


SHAPE_HELP = 'A rule is {"all": [conditions]} or {"any": [conditions]}.'


def parse(raw: object, *, depth: int = 0) -> Group:
    """The group `raw` describes; InvalidInput with a reason a person can read if it is not one."""
    if not isinstance(raw, Mapping):
        raise InvalidInput(SHAPE_HELP)
    if not raw:
        return Group("all", ())
    keys = [key for key in raw if key in MATCHES]
    if len(keys) != 1 or len(raw) != 1:
        raise InvalidInput(SHAPE_HELP)
    match = keys[0]
    nodes = raw[match]
    if not isinstance(nodes, Sequence) or isinstance(nodes, str):
        raise InvalidInput(f'"{match}" must hold a list of conditions.')
    if depth >= MAX_DEPTH:
        raise InvalidInput(f"Groups may be nested {MAX_DEPTH} deep at most.")
    parsed: list[Condition | Group] = []
    for node in nodes:
        if isinstance(node, Mapping) and any(key in node for key in MATCHES):
            parsed.append(parse(node, depth=depth + 1))
        else:
            parsed.append(_condition(node))
    group = Group(match, tuple(parsed))
    if depth == 0 and len(group.conditions()) > MAX_CONDITIONS:
        raise InvalidInput(f"A rule may hold {MAX_CONDITIONS} conditions at most.")
    return group


def _condition(node: object) -> Condition:
    if not isinstance(node, Mapping):
        raise InvalidInput("Each condition needs a field, an operator and a value.")
    field, op = node.get("field"), node.get("op") or "eq"
    if not isinstance(field, str) or not field.strip():
        raise InvalidInput("Each condition needs a field.")
    if op not in OPS:
        raise InvalidInput(f"Unknown operator {op!r}; use one of {', '.join(OPS)}.")
    return Condition(field.strip(), op, node.get("value"))
