"""What a rule can select (tickets, contacts, organizations) and the fields each can name.

Apps register here from their own `conditions.py`, loaded by `registry.py`: a target names its
model and its path to each subject; a field names its subject. A field applies to every target
that can reach its subject, so "tier" means the ticket's organization's tier on a ticket and
the contact's organization's tier on a contact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Model

from patron.conditions.fields import CUSTOM_KEY, ComputedField, CustomField, Field
from patron.core.errors import InvalidInput


@dataclass(frozen=True)
class Path:
    """How a target reaches a subject: an ORM prefix and the same step in Python."""

    prefix: str  # "" for the target itself, "requester__" for a ticket's contact …
    get: Callable[[Any], Any]  # target object -> subject object or None


@dataclass(frozen=True)
class Target:
    name: str  # "ticket"
    plural: str  # "tickets"
    model: type[Model]
    subjects: dict[str, Path]


TARGETS: dict[str, Target] = {}
FIELDS: dict[str, Field] = {}
# Subjects whose custom fields a rule can name: "custom.<key>" is the target's own; a prefix
# here ("contact.", "organization.") reaches a related subject's.
CUSTOM_MODELS: dict[str, type[Model]] = {}


def register_target(target: Target) -> None:
    TARGETS[target.name] = target


def register_field(field: Field) -> None:
    if field.name in FIELDS:
        raise ValueError(f"The condition field {field.name!r} is registered twice.")
    FIELDS[field.name] = field


def register_custom_fields(subject: str, model: type[Model]) -> None:
    CUSTOM_MODELS[subject] = model


def target(name: str) -> Target:
    from patron.conditions import registry

    registry.load()
    if name not in TARGETS:
        raise InvalidInput(f"Rules select {', '.join(sorted(TARGETS))}, not {name}.")
    return TARGETS[name]


def applies(field: Field, target: Target) -> bool:
    if isinstance(field, ComputedField):
        return field.targets == () or target.name in field.targets
    return field.subject in target.subjects


def field_names(target_name: str) -> list[str]:
    """The field names a rule over this target may use, in registration order."""
    chosen = target(target_name)
    names = [name for name, field in FIELDS.items() if applies(field, chosen)]
    for subject in CUSTOM_MODELS:
        if subject == chosen.name:
            names.append("custom.<key>")
        elif subject in chosen.subjects:
            names.append(f"{subject}.custom.<key>")
    return names


def resolve(target_name: str, name: str) -> Field:
    """The field `name` names on this target, or InvalidInput saying what it may name."""
    chosen = target(target_name)
    custom = _custom(chosen, name)
    if custom is not None:
        return custom
    field = FIELDS.get(name)
    if field is None or not applies(field, chosen):
        raise InvalidInput(
            f"A rule over {chosen.plural} cannot use the field {name!r}; "
            f"use one of {', '.join(field_names(target_name))}."
        )
    return field


def _custom(chosen: Target, name: str) -> CustomField | None:
    head, dot, key = name.partition("custom.")
    if not dot or (head and not head.endswith(".")):
        return None
    subject = head.removesuffix(".") or chosen.name
    if subject not in CUSTOM_MODELS or subject not in chosen.subjects:
        raise InvalidInput(f"A rule over {chosen.plural} cannot use the field {name!r}.")
    if not CUSTOM_KEY.fullmatch(key):
        raise InvalidInput(f"{name!r} does not name a custom field; write custom.<key>.")
    owner = "" if subject == chosen.name else f"{subject.capitalize()} "
    return CustomField(
        name=name,
        label=f"{owner}{key.replace('_', ' ')}",
        subject=subject,
        key=key,
    )
