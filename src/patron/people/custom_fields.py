"""Custom fields: the admin's definitions (created, changed and removed here only), and the
values checked against them before they are saved."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import User

from patron.conditions.fields import CUSTOM_KEY
from patron.core.errors import InvalidInput, unique_or
from patron.people import permissions
from patron.people.models import CustomFieldDefinition

FieldType = CustomFieldDefinition.FieldType
CHOICE_TYPES = (FieldType.CHOICE, FieldType.MULTI_CHOICE)
# Larger numbers lose precision in JSON, and int() of "1e2000000" takes minutes.
MAX_NUMBER = 10**15


def clean_value(definition: CustomFieldDefinition, value: object) -> object:
    """Return the JSON-storable form of one value, or raise InvalidInput saying what is wrong."""
    label = definition.label
    if value is None or value == "" or value == []:
        if definition.required:
            raise InvalidInput(f"{label} is required.")
        return None
    match definition.field_type:
        case FieldType.TEXT:
            if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
                raise InvalidInput(f"{label} must be text, not {value!r}.")
            return str(value)
        case FieldType.NUMBER:
            try:
                number = Decimal(str(value))
            except InvalidOperation:
                raise InvalidInput(f"{label} must be a number, not {value!r}.") from None
            if not number.is_finite():
                raise InvalidInput(f"{label} must be a finite number.")
            if number.copy_abs() > MAX_NUMBER:
                raise InvalidInput(
                    f"{label} must be a number between {-MAX_NUMBER:,} and {MAX_NUMBER:,}."
                )
            return int(number) if number == number.to_integral_value() else float(number)
        case FieldType.DATE:
            try:
                return datetime.date.fromisoformat(str(value)).isoformat()
            except ValueError:
                raise InvalidInput(f"{label} must be a date like 2026-11-23.") from None
        case FieldType.CHOICE:
            if str(value) not in definition.choices:
                raise InvalidInput(
                    f"{label} must be one of {', '.join(definition.choices)}, not {value!r}."
                )
            return str(value)
        case FieldType.MULTI_CHOICE:
            if isinstance(value, str):
                values = [value]
            elif isinstance(value, list | tuple):
                values = list(value)
            else:
                raise InvalidInput(f"{label} must be a list of choices, not {value!r}.")
            unknown = [v for v in values if str(v) not in definition.choices]
            if unknown:
                raise InvalidInput(
                    f"{label} accepts only {', '.join(definition.choices)}; "
                    f"{', '.join(map(str, unknown))} is not one of them."
                )
            return sorted({str(v) for v in values}, key=definition.choices.index)
        case FieldType.CHECKBOX:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "on", "1", "yes"):
                return True
            if str(value).lower() in ("false", "off", "0", "no"):
                return False
            raise InvalidInput(f"{label} must be checked or unchecked, not {value!r}.")
    raise InvalidInput(f"{label} has an unknown field type {definition.field_type!r}.")


def clean_custom_fields(
    applies_to: str,
    values: Mapping[str, object],
    *,
    existing: Mapping[str, object] | None = None,
    require_all: bool = True,
) -> dict[str, object]:
    """Merge `values` into `existing` after checking every key and value; None removes a key.

    Required fields are required of agents. What a customer sends (mail, the web form) is
    never refused for lacking an admin's field: pass `require_all=False` for those."""
    definitions = {d.key: d for d in CustomFieldDefinition.objects.filter(applies_to=applies_to)}
    unknown = sorted(set(values) - set(definitions))
    if unknown:
        raise InvalidInput(f"There is no {applies_to} field called {', '.join(unknown)}.")
    cleaned = dict(existing or {})
    for key, value in values.items():
        result = clean_value(definitions[key], value)
        if result is None:
            cleaned.pop(key, None)
        else:
            cleaned[key] = result
    missing = [d.label for d in definitions.values() if d.required and d.key not in cleaned]
    if existing is None and require_all and missing:  # on creation, every required field
        raise InvalidInput(f"{', '.join(missing)} is required.")
    return cleaned


# Definitions


def save_custom_field(
    definition: CustomFieldDefinition | None,
    *,
    actor: User,
    applies_to: str,
    key: str,
    label: str,
    field_type: str,
    choices: list[str],
    required: bool,
    public: bool,
    position: int,
) -> CustomFieldDefinition:
    """Create (definition=None) or change a custom-field definition."""
    permissions.check_administer(actor)
    if applies_to not in CustomFieldDefinition.AppliesTo.values:
        raise InvalidInput("Custom fields apply to contacts, organizations or tickets.")
    if field_type not in FieldType.values:
        raise InvalidInput(f"{field_type!r} is not a field type.")
    key = key.strip()
    if not CUSTOM_KEY.fullmatch(key):
        raise InvalidInput("Key: use only letters, digits, hyphens and single underscores.")
    choices = [c.strip() for c in choices if c.strip()]
    if field_type in CHOICE_TYPES and not choices:
        raise InvalidInput("Choices: list at least one choice, one per line.")
    if len(set(choices)) != len(choices):
        raise InvalidInput("Choices: each choice may appear only once.")
    duplicate = CustomFieldDefinition.objects.filter(applies_to=applies_to, key=key)
    if definition is not None:
        duplicate = duplicate.exclude(pk=definition.pk)
    taken = f"Key: a {applies_to} field with the key {key!r} already exists."
    if duplicate.exists():
        raise InvalidInput(taken)
    definition = definition or CustomFieldDefinition()
    definition.applies_to = applies_to
    definition.key = key
    definition.label = label.strip() or key
    definition.field_type = field_type
    definition.choices = choices if field_type in CHOICE_TYPES else []
    definition.required = required
    definition.public = public
    definition.position = position
    with unique_or(taken):
        definition.save()
    return definition


def delete_custom_field(definition: CustomFieldDefinition, *, actor: User) -> None:
    """Remove the definition; values already stored stay in the records' JSON until edited."""
    permissions.check_administer(actor)
    definition.delete()
