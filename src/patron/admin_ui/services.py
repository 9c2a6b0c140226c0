"""Changes admins make on the settings pages: teams, custom-field definitions, segments.

Each function checks the actor may administer, validates, then changes; a refusal is an
InvalidInput whose message the page shows next to the form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from patron.core import permissions
from patron.core.errors import InvalidInput
from patron.people.models import CustomFieldDefinition, Segment, Team
from patron.people.segments import CUSTOM_KEY, rule_q

CHOICE_TYPES = (
    CustomFieldDefinition.FieldType.CHOICE,
    CustomFieldDefinition.FieldType.MULTI_CHOICE,
)
SEGMENT_TARGETS = ("contact", "organization", "ticket")


# Teams


def save_team(team: Team | None, *, actor: User, name: str, description: str = "") -> Team:
    """Create a team (team=None) or rename it."""
    permissions.check_administer(actor)
    name = name.strip()
    if not name:
        raise InvalidInput("A team needs a name.")
    same_name = Team.objects.filter(name__iexact=name)
    if team is not None:
        same_name = same_name.exclude(pk=team.pk)
    if same_name.exists():
        raise InvalidInput(f"A team called {name!r} already exists.")
    team = team or Team()
    team.name = name
    team.description = description.strip()
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError:
        raise InvalidInput(f"A team called {name!r} already exists.") from None
    return team


def delete_team(team: Team, *, actor: User) -> None:
    """Delete a team no ticket refers to; otherwise tickets would silently lose their team."""
    permissions.check_administer(actor)
    with transaction.atomic():
        count = team.tickets.count()
        if count:
            raise InvalidInput(
                f"{team.name} cannot be deleted: {count} "
                f"{'ticket belongs' if count == 1 else 'tickets belong'} to it. "
                "Move them to another team first."
            )
        team.delete()


# Custom fields


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
    if field_type not in CustomFieldDefinition.FieldType.values:
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
    if duplicate.exists():
        raise InvalidInput(f"Key: a {applies_to} field with the key {key!r} already exists.")
    definition = definition or CustomFieldDefinition()
    definition.applies_to = applies_to
    definition.key = key
    definition.label = label.strip() or key
    definition.field_type = field_type
    definition.choices = choices if field_type in CHOICE_TYPES else []
    definition.required = required
    definition.public = public
    definition.position = position
    try:
        with transaction.atomic():
            definition.save()
    except IntegrityError:
        raise InvalidInput(
            f"Key: a {applies_to} field with the key {key!r} already exists."
        ) from None
    return definition


def delete_custom_field(definition: CustomFieldDefinition, *, actor: User) -> None:
    """Remove the definition; values already stored stay in the records' JSON until edited."""
    permissions.check_administer(actor)
    definition.delete()


# Segments


def check_rule(rule: Mapping[str, Any]) -> None:
    """Raise InvalidInput if any target cannot read the rule."""
    if not (rule.get("all") or rule.get("any")):
        raise InvalidInput("Add at least one condition.")
    for target in SEGMENT_TARGETS:
        rule_q(target, rule)


def match_counts(rule: Mapping[str, Any]) -> dict[str, int]:
    """How many contacts, organizations and tickets the rule selects now."""
    from patron.people.models import Contact, Organization
    from patron.tickets.models import Ticket

    check_rule(rule)
    return {
        "contacts": Contact.objects.filter(merged_into__isnull=True)
        .filter(rule_q("contact", rule))
        .distinct()
        .count(),
        "organizations": Organization.objects.filter(rule_q("organization", rule))
        .distinct()
        .count(),
        "tickets": Ticket.objects.filter(rule_q("ticket", rule)).distinct().count(),
    }


def save_segment(
    segment: Segment | None,
    *,
    actor: User,
    name: str,
    rule: Mapping[str, Any],
    description: str = "",
) -> Segment:
    """Create (segment=None) or change a segment; built-in segments cannot be changed."""
    permissions.check_administer(actor)
    if segment is not None and segment.builtin:
        raise InvalidInput(f"{segment.name} is built in and cannot be changed.")
    name = name.strip()
    if not name:
        raise InvalidInput("Name: a segment needs a name.")
    check_rule(rule)
    same_name = Segment.objects.filter(name__iexact=name)
    if segment is not None:
        same_name = same_name.exclude(pk=segment.pk)
    if same_name.exists():
        raise InvalidInput(f"Name: a segment called {name!r} already exists.")
    segment = segment or Segment(slug=_free_slug(name))
    segment.name = name
    segment.description = description.strip()
    segment.rule = dict(rule)
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError:
        raise InvalidInput(f"Name: a segment called {name!r} already exists.") from None
    return segment


def _free_slug(name: str) -> str:
    base = slugify(name)[:56] or "segment"
    slug, n = base, 2
    while Segment.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def delete_segment(segment: Segment, *, actor: User) -> None:
    permissions.check_administer(actor)
    if segment.builtin:
        raise InvalidInput(f"{segment.name} is built in and cannot be deleted.")
    segment.delete()
