"""The fields rules can name on contacts and organizations, and segment membership.

Registered by `patron.conditions.registry`; a ticket reaches these through its requester
(contact) and its organization (see `patron.tickets.conditions`).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q

from patron.conditions import engine
from patron.conditions.fields import (
    ComputedField,
    DateField,
    ManyField,
    ReferenceField,
    TextField,
)
from patron.conditions.targets import (
    Path,
    Target,
    register_custom_fields,
    register_field,
    register_target,
    target,
)
from patron.core.errors import InvalidInput
from patron.people.models import (
    Contact,
    ContactEmail,
    Organization,
    Relationship,
    Segment,
    check_relationship,
)


def _itself(obj: Any) -> Any:
    return obj


def _relationship_q(target_name: str, value: str) -> Q:
    """A contact's own relationship, else its organization's, else customer."""
    subjects = target(target_name).subjects
    if "contact" not in subjects:
        return Q(relationship=value)
    prefix = subjects["contact"].prefix
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


def _relationship_of(target_name: str, obj: Any, value: str) -> bool:
    subjects = target(target_name).subjects
    holder = subjects["contact"].get(obj) if "contact" in subjects else obj
    return bool(holder.relationship == value)


def _segment_slug(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("Name the segment by its slug, such as 'clients'.")
    return value.strip()


def _segment_rule(slug: str) -> object:
    rule = Segment.objects.filter(slug=slug).values_list("rule", flat=True).first()
    if rule is None:
        raise InvalidInput(f"There is no segment {slug!r}.")
    return rule


def _in_segment_q(target_name: str, slug: str) -> Q:
    with engine.following(slug):
        return engine.to_q(target_name, _segment_rule(slug))


def _in_segment(target_name: str, obj: Any, slug: str) -> bool:
    with engine.following(slug):
        return engine.matches(target_name, obj, _segment_rule(slug))


def _segment_name(slug: str) -> str:
    name = Segment.objects.filter(slug=slug).values_list("name", flat=True).first()
    return name or slug


def _addresses(op: str, value: str) -> Any:
    lookup = "icontains" if op == "contains" else "iexact"
    return ContactEmail.objects.filter(**{f"address__{lookup}": value}).values("contact_id")


def register() -> None:
    register_target(
        Target(
            "contact",
            "contacts",
            Contact,
            {
                "self": Path("", _itself),
                "contact": Path("", _itself),
                "organization": Path("organization__", lambda c: c.organization),
            },
        )
    )
    register_target(
        Target(
            "organization",
            "organizations",
            Organization,
            {"self": Path("", _itself), "organization": Path("", _itself)},
        )
    )
    register_custom_fields("contact", Contact)
    register_custom_fields("organization", Organization)
    for field in (
        ComputedField(
            "relationship",
            "Relationship",
            subject="*",
            compile=_relationship_q,
            evaluate=_relationship_of,
            cleaner=check_relationship,
            renderer=lambda value: str(Relationship(value).label),
        ),
        TextField("tier", "Tier", subject="organization", attribute="tier"),
        TextField("organization", "Organization", subject="organization", attribute="name"),
        ReferenceField(
            "account_manager",
            "Account manager",
            subject="organization",
            attribute="account_manager",
            name_attribute="username",
            model=User,
        ),
        TextField("language", "Language", subject="contact", attribute="language"),
        ManyField(
            "email",
            "Email address",
            subject="contact",
            rows=_addresses,
            names=lambda contact: [email.address for email in contact.emails.all()],
        ),
        DateField("created", "Created", subject="self", attribute="created_at"),
        ComputedField(
            "segment",
            "Segment",
            subject="*",
            compile=_in_segment_q,
            evaluate=_in_segment,
            cleaner=_segment_slug,
            renderer=_segment_name,
        ),
    ):
        register_field(field)
