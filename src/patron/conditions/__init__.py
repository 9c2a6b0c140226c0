"""One condition language for segments, saved views and, later, triggers, time rules, SLA
policy selection, health scorecards and dashboard filters.

    validate(target, rule) -> the rule as stored, or InvalidInput with a readable reason
    to_q(target, rule)      -> a Q for lists and counts
    matches(target, obj, rule) -> the same answer for one object in memory
    matcher(target, rule)   -> matches for one rule, bound once, for many objects
    describe(target, rule)  -> "Relationship is Client and Priority is Urgent"

The shape is in `shape.py`, the kinds of field in `fields.py`, what each target can reach in
`targets.py`; apps define their fields in their own `conditions.py` (named in `registry.py`).
"""

from patron.conditions.engine import describe, following, matcher, matches, to_q, validate
from patron.conditions.shape import OPS
from patron.conditions.targets import field_names

__all__ = [
    "OPS",
    "describe",
    "field_names",
    "following",
    "matcher",
    "matches",
    "to_q",
    "validate",
]
