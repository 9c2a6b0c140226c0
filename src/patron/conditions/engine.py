"""A rule compiled to a `Q` for lists and counts, evaluated in Python for one object in memory,
and read out as a sentence; the three agree (tests/conditions/test_agreement.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from patron.conditions.fields import ComputedField, Field
from patron.conditions.shape import Condition, Group, parse
from patron.conditions.targets import Target, resolve, target
from patron.core.errors import InvalidInput

NOTHING = Q(pk__in=[])
EVERYTHING = ~NOTHING  # not Q(): an empty Q vanishes when OR-ed with another
WORDS = {
    "eq": "is",
    "ne": "is not",
    "in": "is",
    "contains": "contains",
    "before": "is before",
    "after": "is after",
}


@dataclass(frozen=True)
class Bound:
    """A condition checked against its target: the field, the op, the cleaned value(s)."""

    field: Field
    op: str
    value: Any  # a list for "in"

    def dump(self) -> dict[str, Any]:
        return {"field": self.field.name, "op": self.op, "value": self.value}


def _split(value: object) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [value]


def bind(target_name: str, condition: Condition) -> Bound:
    field = resolve(target_name, condition.field)
    if condition.op not in field.ops:
        raise InvalidInput(
            f"{field.label} cannot be compared with {condition.op!r}; use {', '.join(field.ops)}."
        )
    if condition.op == "in":
        values = [field.clean(one) for one in _split(condition.value)]
        if not values:
            raise InvalidInput(f"Give {field.label.lower()} at least one value to be in.")
        return Bound(field, "in", values)
    return Bound(field, condition.op, field.clean(condition.value))


def _walk[T](
    target_name: str, group: Group, leaf: Callable[[Bound], T], join: Callable[[str, list[T]], T]
) -> T:
    parts = [
        _walk(target_name, node, leaf, join)
        if isinstance(node, Group)
        else leaf(bind(target_name, node))
        for node in group.nodes
    ]
    return join(group.match, parts)


# SQL


def to_q(target_name: str, rule: object) -> Q:
    """The Q selecting the target's rows that match `rule`; InvalidInput if the rule is wrong."""
    chosen = target(target_name)
    return _walk(target_name, parse(rule), lambda bound: _q(chosen, bound), _join_q)


def _join_q(match: str, parts: list[Q]) -> Q:
    if not parts:
        return EVERYTHING if match == "all" else NOTHING
    result = parts[0]
    for part in parts[1:]:
        result = result & part if match == "all" else result | part
    return result


def _q(chosen: Target, bound: Bound) -> Q:
    field, op, value = bound.field, bound.op, bound.value
    if isinstance(field, ComputedField):
        assert field.compile is not None
        compile_one = field.compile

        def equal(one: Any) -> Q:
            return compile_one(chosen.name, one)

        def differ(one: Any) -> Q:
            return _complement(chosen, compile_one(chosen.name, one))
    else:
        prefix = chosen.subjects[field.subject].prefix

        def equal(one: Any) -> Q:
            return field.q(prefix, "eq", one)

        def differ(one: Any) -> Q:
            if field.plain and prefix == "":
                return ~field.q(prefix, "eq", one)
            return _complement(chosen, field.q(prefix, "eq", one))

    if op == "eq":
        return equal(value)
    if op == "ne":
        return differ(value)
    if op == "in":
        return _join_q("any", [equal(one) for one in value])
    prefix = chosen.subjects[field.subject].prefix
    return field.q(prefix, op, value)


def _complement(chosen: Target, q: Q) -> Q:
    """The rows `q` does not select, as a subquery: SQL's NOT over a join, a JSON key or an OR
    that meets a NULL drops the row instead of keeping it, and "not eq" must keep it."""
    return ~Q(pk__in=chosen.model._default_manager.filter(q).values("pk"))


# Python


def matches(target_name: str, obj: Any, rule: object) -> bool:
    """Whether one object (a Ticket, Contact or Organization) matches `rule`, read in memory
    (following its relations as loaded); the same answer `to_q` gives in the database."""
    return matcher(target_name, rule)(obj)


def matcher(target_name: str, rule: object) -> Callable[[Any], bool]:
    """`matches` for one rule, checked and bound once: for asking the same rule of many objects
    (a trigger of every event). Groups stop at the first condition that decides them."""
    chosen = target(target_name)

    def compiled(group: Group) -> Callable[[Any], bool]:
        parts: list[Callable[[Any], bool]] = [
            compiled(node) if isinstance(node, Group) else _leaf(chosen, bind(target_name, node))
            for node in group.nodes
        ]
        if group.match == "all":
            return lambda obj: all(part(obj) for part in parts)
        return lambda obj: any(part(obj) for part in parts)

    return compiled(parse(rule))


def _leaf(chosen: Target, bound: Bound) -> Callable[[Any], bool]:
    return lambda obj: _test(chosen, obj, bound)


def _test(chosen: Target, obj: Any, bound: Bound) -> bool:
    field, op, value = bound.field, bound.op, bound.value
    if isinstance(field, ComputedField):
        assert field.evaluate is not None
        evaluate = field.evaluate

        def holds(one_op: str, one: Any) -> bool:
            return evaluate(chosen.name, obj, one)
    else:
        stored = field.values(chosen.subjects[field.subject].get(obj))

        def holds(one_op: str, one: Any) -> bool:
            return any(field.test(one_op, item, one) for item in stored)

    if op == "ne":
        return not holds("eq", value)
    if op == "in":
        return any(holds("eq", one) for one in value)
    return holds(op, value)


# Checking and words


def validate(target_name: str, rule: object) -> dict[str, Any]:
    """The rule as it should be stored (operators spelled out, "in" values as lists, dates as
    ISO), after checking every field, operator and value; InvalidInput says what is wrong."""
    to_q(target_name, rule)  # also follows segments, so a missing or looping one is reported

    def dump(match: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
        return {match: parts}

    dumped: dict[str, Any] = _walk(target_name, parse(rule), Bound.dump, dump)
    return dumped


def describe(target_name: str, rule: object) -> str:
    """The rule as a sentence: "Relationship is Client and Priority is Urgent"."""
    chosen = target(target_name)
    group = parse(rule)
    if not group.nodes:
        return f"All {chosen.plural}" if group.match == "all" else f"No {chosen.plural}"
    return _sentence(target_name, group, outer=True)


def _sentence(target_name: str, group: Group, *, outer: bool = False) -> str:
    parts = [
        _sentence(target_name, node) if isinstance(node, Group) else _words(bind(target_name, node))
        for node in group.nodes
    ]
    if not parts:
        return "nothing" if group.match == "any" else "anything"
    joined = f" {'and' if group.match == 'all' else 'or'} ".join(parts)
    return joined if outer or len(parts) == 1 else f"({joined})"


def _words(bound: Bound) -> str:
    field = bound.field
    if bound.op == "in":
        shown = " or ".join(field.render(one) for one in bound.value)
    else:
        shown = field.render(bound.value)
    return f"{field.label} {WORDS[bound.op]} {shown}"


# Segments inside rules: a segment may name another, never itself through any chain.

_following: ContextVar[tuple[str, ...]] = ContextVar("following_segments", default=())


@contextmanager
def following(slug: str) -> Iterator[None]:
    """Mark the segment `slug` as being compiled; InvalidInput if it already is (a loop)."""
    chain = _following.get()
    if slug in chain:
        raise InvalidInput(
            f"The segment {slug!r} names itself through {' → '.join((*chain, slug))}."
        )
    token = _following.set((*chain, slug))
    try:
        yield
    finally:
        _following.reset(token)
