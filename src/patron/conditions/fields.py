"""The kinds of field a condition can name, each compiled to SQL and evaluated in Python alike.

A field belongs to a *subject* (ticket, contact or organization) and is reached from each
target through that target's path to the subject (see `targets.py`). Apps define their fields
with these kinds in their own `conditions.py`; nothing here knows a domain model.

Text compares ignoring case, as the database does (ASCII on SQLite, which folds only ASCII).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from patron.core.errors import InvalidInput

EQUALITY = ("eq", "ne", "in")
TEXT_OPS = (*EQUALITY, "contains")
DATE_OPS = ("eq", "before", "after")
NOBODY = "none"  # the value for "no assignee", "no team", "no account manager"
# A custom-field key as admins write it; no "__", which the ORM would read as a lookup.
CUSTOM_KEY = re.compile(r"[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*")


class Missing:
    """A custom field the object does not have (unlike a stored null or empty string)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = Missing()


def _same_text(stored: object, value: object) -> bool:
    return isinstance(stored, str) and stored.lower() == str(value).lower()


@dataclass(frozen=True)
class Field:
    """A field of one subject: its name in rules, its label in sentences, its operators."""

    name: str
    label: str
    subject: str
    ops: tuple[str, ...] = EQUALITY
    # A NOT NULL column of the row itself, so SQL's NOT can be trusted on it; anything else
    # (a join, a JSON key, a many-valued link) is negated as "not among the rows that match".
    plain = False

    def clean(self, value: object) -> Any:
        """One value as rules store it, or InvalidInput."""
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)
        raise InvalidInput(f"{self.label} needs a text value, not {value!r}.")

    def q(self, prefix: str, op: str, value: Any) -> Q:
        """The Q for one value and op (eq, contains, before, after) from `prefix`."""
        raise NotImplementedError

    def values(self, subject: Any) -> list[Any]:
        """What the subject holds in this field (several for a many-valued one)."""
        raise NotImplementedError

    def test(self, op: str, stored: Any, value: Any) -> bool:
        """Whether one stored value satisfies op (eq, contains, before, after) and value."""
        if op == "contains":
            return isinstance(stored, str) and str(value).lower() in stored.lower()
        return _same_text(stored, value)

    def render(self, value: Any) -> str:
        return f'"{value}"'


@dataclass(frozen=True)
class TextField(Field):
    """A text column on the subject, compared ignoring case."""

    plain = True

    attribute: str = ""
    ops: tuple[str, ...] = TEXT_OPS

    def q(self, prefix: str, op: str, value: Any) -> Q:
        lookup = "icontains" if op == "contains" else "iexact"
        return Q(**{f"{prefix}{self.attribute}__{lookup}": value})

    def values(self, subject: Any) -> list[Any]:
        return [] if subject is None else [getattr(subject, self.attribute)]


@dataclass(frozen=True)
class ChoiceField(Field):
    """A column holding one of a fixed set of values (status, priority …)."""

    plain = True

    attribute: str = ""
    choices: Any = None  # a TextChoices class

    def clean(self, value: object) -> Any:
        if value not in self.choices.values:
            raise InvalidInput(
                f"{value!r} is not a {self.label.lower()}; "
                f"use one of {', '.join(self.choices.values)}."
            )
        return value

    def q(self, prefix: str, op: str, value: Any) -> Q:
        return Q(**{f"{prefix}{self.attribute}": value})

    def values(self, subject: Any) -> list[Any]:
        return [] if subject is None else [getattr(subject, self.attribute)]

    def test(self, op: str, stored: Any, value: Any) -> bool:
        return bool(stored == value)

    def render(self, value: Any) -> str:
        return str(self.choices(value).label) if value in self.choices.values else str(value)


@dataclass(frozen=True)
class ReferenceField(Field):
    """A link to a named row (team, assignee): `none`, its id, or its name ignoring case."""

    attribute: str = ""  # the foreign key on the subject
    name_attribute: str = "name"  # the linked row's name
    model: type[Model] | None = None

    def clean(self, value: object) -> Any:
        if value in (None, "", NOBODY):
            return NOBODY
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            return int(value) if value.isdigit() else value.strip()
        raise InvalidInput(f"{self.label} needs a name, an id or {NOBODY!r}, not {value!r}.")

    def q(self, prefix: str, op: str, value: Any) -> Q:
        path = f"{prefix}{self.attribute}"
        if value == NOBODY:
            return Q(**{f"{path}__isnull": True})
        if isinstance(value, int):
            return Q(**{f"{path}_id": value})
        return Q(**{f"{path}__{self.name_attribute}__iexact": value})

    def values(self, subject: Any) -> list[Any]:
        # No subject (a ticket without an organization) links to nobody, as the SQL join says.
        return [None if subject is None else getattr(subject, self.attribute)]

    def test(self, op: str, stored: Any, value: Any) -> bool:
        if value == NOBODY:
            return stored is None
        if stored is None:
            return False
        if isinstance(value, int):
            return bool(stored.pk == value)
        return _same_text(getattr(stored, self.name_attribute), value)

    def render(self, value: Any) -> str:
        if value == NOBODY:
            return "nobody"
        if isinstance(value, int) and self.model is not None:
            row = self.model._default_manager.filter(pk=value).first()
            return str(row) if row is not None else f"#{value}"
        return str(value)


@dataclass(frozen=True)
class DateField(Field):
    """A timestamp compared by its date in the current time zone, as SQL's `__date` does."""

    plain = True

    attribute: str = ""
    ops: tuple[str, ...] = DATE_OPS

    def clean(self, value: object) -> Any:
        try:
            return date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise InvalidInput(
                f"The {self.label.lower()} date must look like 2026-11-23, not {value!r}."
            ) from None

    def q(self, prefix: str, op: str, value: Any) -> Q:
        lookup = {"eq": "date", "before": "date__lt", "after": "date__gt"}[op]
        return Q(**{f"{prefix}{self.attribute}__{lookup}": date.fromisoformat(value)})

    def values(self, subject: Any) -> list[Any]:
        stamp: datetime | None = None if subject is None else getattr(subject, self.attribute)
        return [] if stamp is None else [timezone.localtime(stamp).date()]

    def test(self, op: str, stored: Any, value: Any) -> bool:
        wanted = date.fromisoformat(value)
        return bool(
            {"eq": stored == wanted, "before": stored < wanted, "after": stored > wanted}[op]
        )

    def render(self, value: Any) -> str:
        return str(value)


@dataclass(frozen=True)
class ManyField(Field):
    """A name among many linked rows (tags, email addresses), matched through a subquery so
    that no row is repeated by the join."""

    rows: Callable[[str, Any], QuerySet[Any]] | None = None  # (op, value) -> owner ids
    names: Callable[[Any], Iterable[str]] | None = None  # subject -> its names
    ops: tuple[str, ...] = TEXT_OPS

    def q(self, prefix: str, op: str, value: Any) -> Q:
        assert self.rows is not None
        return Q(**{f"{prefix}pk__in": self.rows(op, value)})

    def values(self, subject: Any) -> list[Any]:
        assert self.names is not None
        return [] if subject is None else list(self.names(subject))


def _json_text(stored: object) -> str | None:
    """A stored JSON value as both databases read it as text (`->>`): true and false as
    words, numbers as digits; None for a JSON null, which text never matches."""
    if stored is None:
        return None
    if isinstance(stored, str):
        return stored
    if isinstance(stored, bool):
        return "true" if stored else "false"
    if isinstance(stored, (int, float)):
        return str(stored)
    return json.dumps(stored)


def _json_equal(stored: object, value: object) -> bool:
    """JSON equality: a number is never a boolean, a string never a number."""
    if isinstance(stored, bool) or isinstance(value, bool):
        return isinstance(stored, bool) and isinstance(value, bool) and stored == value
    if isinstance(stored, (int, float)) and isinstance(value, (int, float)):
        return stored == value
    return type(stored) is type(value) and stored == value


@dataclass(frozen=True)
class CustomField(Field):
    """`custom.<key>` (or `contact.custom.<key>` …): a value in the subject's custom fields.

    A text value compares ignoring case with the stored text (or number); a number or a
    true/false compares as JSON, exactly. A subject without the key never equals anything."""

    key: str = ""
    ops: tuple[str, ...] = TEXT_OPS

    def clean(self, value: object) -> Any:
        if isinstance(value, (str, int, float, bool)):
            return value
        raise InvalidInput(f"{self.label} needs a text, number or true/false value.")

    def _path(self, prefix: str) -> str:
        return f"{prefix}custom_fields__{self.key}"

    def q(self, prefix: str, op: str, value: Any) -> Q:
        path = self._path(prefix)
        if op == "contains" or isinstance(value, str):
            lookup = "icontains" if op == "contains" else "iexact"
            # SQLite reads a JSON null as the text "null", PostgreSQL as NULL: leave it out.
            return Q(**{f"{path}__{lookup}": str(value)}) & ~Q(**{path: None})
        return Q(**{path: value})

    def values(self, subject: Any) -> list[Any]:
        if subject is None:
            return []
        stored = subject.custom_fields
        return [stored.get(self.key, MISSING) if isinstance(stored, dict) else MISSING]

    def test(self, op: str, stored: Any, value: Any) -> bool:
        if stored is MISSING:
            return False
        if op == "contains":
            text = _json_text(stored)
            return text is not None and str(value).lower() in text.lower()
        if isinstance(value, str):
            text = _json_text(stored)
            return text is not None and text.lower() == value.lower()
        return _json_equal(stored, value)

    def render(self, value: Any) -> str:
        return f'"{value}"' if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class ComputedField(Field):
    """A field read from the whole target rather than one subject's column (a contact's
    relationship, membership of a segment): its SQL and its Python are given as functions of
    the target name, and `subject` is "*" (every target) or the one target it applies to."""

    compile: Callable[[str, Any], Q] | None = None  # (target, value) -> Q of "eq"
    evaluate: Callable[[str, Any, Any], bool] | None = None  # (target, obj, value) -> "eq"
    cleaner: Callable[[Any], Any] | None = None
    renderer: Callable[[Any], str] | None = None
    targets: tuple[str, ...] = ()

    def clean(self, value: object) -> Any:
        return self.cleaner(value) if self.cleaner else super().clean(value)

    def render(self, value: Any) -> str:
        return self.renderer(value) if self.renderer else super().render(value)
