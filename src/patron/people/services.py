"""Every change to contacts, organizations and segments goes through these functions (agents and
teams: `agents`; custom-field definitions: `custom_fields`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from patron import conditions
from patron.core import clock
from patron.core.errors import InvalidInput, unique_or
from patron.people import permissions
from patron.people.custom_fields import clean_custom_fields
from patron.people.models import (
    Contact,
    ContactEmail,
    Organization,
    OrganizationDomain,
    PeopleEvent,
    Relationship,
    Segment,
    check_relationship,
)
from patron.people.segments import BUILTIN_SEGMENTS


def normalize_email(address: str) -> str:
    """Trim and check an address; the domain is lowercased, the local part kept as written.

    Internationalized addresses are addresses (RFC 6531/6532): the local part may hold UTF-8
    (checked as if each printable non-ASCII character were a letter) and the domain is checked
    in its IDNA form but kept in Unicode as given, lowercased.
    """
    address = address.strip()
    local, _, domain = address.rpartition("@")
    domain = domain.lower()
    ascii_local = "".join("x" if ord(ch) > 127 and ch.isprintable() else ch for ch in local)
    try:
        ascii_domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
        if any(label[:1] == "-" or label[-1:] == "-" for label in domain.split(".")):
            raise ValidationError("a domain label starts or ends with a hyphen")
        validate_email(f"{ascii_local}@{ascii_domain}")
    except (ValidationError, UnicodeError):
        raise InvalidInput(f"{address!r} is not an email address.") from None
    return f"{local}@{domain}"


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def find_contact(address: str) -> Contact | None:
    """The contact owning this address, matched case-insensitively, following merges."""
    email = (
        ContactEmail.objects.select_related("contact")
        .filter(address__iexact=address.strip())
        .first()
    )
    if email is None:
        return None
    contact = email.contact
    while contact.merged_into_id is not None and contact.merged_into is not None:
        contact = contact.merged_into
    return contact


def organization_for_domain(domain: str) -> Organization | None:
    match = OrganizationDomain.objects.select_related("organization").filter(domain=domain.lower())
    first = match.first()
    return first.organization if first else None


def create_contact(
    *,
    email: str,
    now: datetime,
    name: str = "",
    organization: Organization | None = None,
    phone: str = "",
    language: str = "",
    time_zone: str = "",
    relationship_override: str = "",
    custom_fields: Mapping[str, object] | None = None,
    require_all: bool = True,
) -> Contact:
    """Create a contact with its first address; attach it to an organization by email domain.

    `require_all=False` when the contact comes from what a person sent us (see
    `clean_custom_fields`): their message must never be refused for an admin's field."""
    address = normalize_email(email)
    if relationship_override:
        check_relationship(relationship_override)
    fields = clean_custom_fields("contact", custom_fields or {}, require_all=require_all)
    if organization is None:
        organization = organization_for_domain(domain_of(address))
    try:
        with transaction.atomic():
            contact = Contact.objects.create(
                name=name.strip(),
                organization=organization,
                phone=phone,
                language=language,
                time_zone=time_zone,
                relationship_override=relationship_override,
                custom_fields=fields,
                created_at=now,
            )
            ContactEmail.objects.create(contact=contact, address=address, primary=True)
            record_event(PeopleEvent.Kind.CREATED, {}, contact=contact, actor=None, at=now)
    except IntegrityError:
        raise InvalidInput(f"{address} already belongs to another contact.") from None
    return contact


def get_or_create_contact(*, email: str, now: datetime, name: str = "") -> Contact:
    """The contact for an address, created if none has it (the web form and mail use this)."""
    existing = find_contact(email)
    if existing is not None:
        return existing
    try:
        return create_contact(email=email, name=name, now=now, require_all=False)
    except InvalidInput:
        # Another request created it between our look-up and our insert.
        found = find_contact(email)
        if found is None:
            raise
        return found


def add_email(contact: Contact, address: str, *, actor: User) -> ContactEmail:
    permissions.check_manage_people(actor)
    address = normalize_email(address)
    with unique_or(f"{address} already belongs to another contact."):
        email = ContactEmail.objects.create(contact=contact, address=address)
    return email


def update_contact_fields(
    contact: Contact, values: Mapping[str, object], *, actor: User
) -> Contact:
    permissions.check_manage_people(actor)
    contact.custom_fields = clean_custom_fields("contact", values, existing=contact.custom_fields)
    contact.save(update_fields=["custom_fields"])
    return contact


def create_organization(
    *,
    name: str,
    now: datetime,
    relationship: str = Relationship.CUSTOMER,
    tier: str = "",
    domains: Iterable[str] = (),
    account_manager: User | None = None,
    custom_fields: Mapping[str, object] | None = None,
) -> Organization:
    """Create an organization; contacts already writing from its domains join it."""
    check_relationship(relationship)
    if not name.strip():
        raise InvalidInput("An organization needs a name.")
    fields = clean_custom_fields("organization", custom_fields or {})
    domains = [domain.lower() for domain in domains]
    try:
        with transaction.atomic():
            organization = Organization.objects.create(
                name=name.strip(),
                relationship=relationship,
                tier=tier,
                account_manager=account_manager,
                custom_fields=fields,
                created_at=now,
            )
            for domain in domains:
                OrganizationDomain.objects.create(organization=organization, domain=domain)
                Contact.objects.filter(
                    organization__isnull=True, emails__address__iendswith=f"@{domain}"
                ).update(organization=organization)
            record_event(
                PeopleEvent.Kind.CREATED,
                {"domains": domains},
                organization=organization,
                actor=None,
                at=now,
            )
    except IntegrityError:
        raise InvalidInput(
            f"An organization called {name.strip()!r} or one of its domains already exists."
        ) from None
    return organization


def set_relationship(
    organization: Organization,
    relationship: str,
    *,
    actor: User,
    now: datetime | None = None,
) -> Organization:
    """Make an organization a client or a customer (its contacts follow unless overridden).

    The change is recorded as a PeopleEvent in the same transaction: it moves SLAs and reports."""
    permissions.check_change_relationship(actor)
    check_relationship(relationship)
    with transaction.atomic():
        previous = (
            Organization.objects.select_for_update()
            .values_list("relationship", flat=True)
            .get(pk=organization.pk)
        )
        organization.relationship = relationship
        organization.save(update_fields=["relationship"])
        if previous != relationship:
            record_event(
                PeopleEvent.Kind.RELATIONSHIP_CHANGED,
                {"from": previous, "to": relationship},
                organization=organization,
                actor=actor,
                at=now or clock.now(),
            )
    return organization


def record_event(
    kind: str,
    data: Mapping[str, object],
    *,
    actor: User | None,
    at: datetime,
    contact: Contact | None = None,
    organization: Organization | None = None,
) -> PeopleEvent:
    """Write one line of a contact's or organization's audit trail, inside the change's
    transaction; its receipts (search re-index included) are delivered after commit."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(
            "record_event() must run inside the transaction of the change it records"
        )
    return PeopleEvent.objects.create(
        kind=kind, contact=contact, organization=organization, actor=actor, at=at, data=dict(data)
    )


def check_time_zone(name: str) -> str:
    """An IANA zone name such as Europe/Paris, or empty; anything else is refused."""
    name = name.strip()
    if not name:
        return ""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"{name!r} is not a time zone; write one like Europe/Paris or America/New_York."
        ) from None
    return name


MAX_ORGANIZATION_NAME = 200
MAX_TIER = 40
CONTACT_TEXT_FIELDS = ("name", "phone", "language", "time_zone", "relationship_override")
MAX_LENGTHS = {"name": 200, "phone": 40, "language": 16, "time_zone": 64}


def update_contact(
    contact: Contact,
    *,
    actor: User,
    now: datetime,
    name: str | None = None,
    phone: str | None = None,
    language: str | None = None,
    time_zone: str | None = None,
    relationship_override: str | None = None,
    custom_fields: Mapping[str, object] | None = None,
    new_email: str = "",
) -> Contact:
    """Change a contact's details (None leaves a field as it is) and record what changed."""
    permissions.check_manage_people(actor)
    if contact.merged_into_id is not None:
        raise InvalidInput(f"{contact} was merged into another contact; edit that one instead.")
    given = {
        "name": name,
        "phone": phone,
        "language": language,
        "time_zone": time_zone,
        "relationship_override": relationship_override,
    }
    values = {field: value.strip() for field, value in given.items() if value is not None}
    for field, limit in MAX_LENGTHS.items():
        if len(values.get(field, "")) > limit:
            raise InvalidInput(f"The {field.replace('_', ' ')} may be at most {limit} characters.")
    if "time_zone" in values:
        values["time_zone"] = check_time_zone(values["time_zone"])
    override = values.get("relationship_override", "")
    if override:
        check_relationship(override)
    fields = (
        clean_custom_fields("contact", custom_fields, existing=contact.custom_fields)
        if custom_fields is not None
        else contact.custom_fields
    )
    address = normalize_email(new_email) if new_email.strip() else ""
    changed = sorted(f for f, v in values.items() if getattr(contact, f) != v)
    if fields != contact.custom_fields:
        changed.append("custom_fields")
    try:
        with transaction.atomic():
            for field, value in values.items():
                setattr(contact, field, value)
            contact.custom_fields = fields
            contact.save(update_fields=[*CONTACT_TEXT_FIELDS, "custom_fields"])
            if address:
                ContactEmail.objects.create(contact=contact, address=address)
                record_event(
                    PeopleEvent.Kind.EMAIL_ADDED, {"address": address}, contact=contact,
                    actor=actor, at=now,
                )  # fmt: skip
            if changed:
                record_event(
                    PeopleEvent.Kind.UPDATED,
                    {"fields": changed},
                    contact=contact,
                    actor=actor,
                    at=now,
                )
    except IntegrityError:
        contact.refresh_from_db()
        raise InvalidInput(f"{address} already belongs to another contact.") from None
    return contact


def attach_to_organization(
    contact: Contact, organization: Organization | None, *, actor: User, now: datetime
) -> Contact:
    """Make a contact a member of an organization (None: of none); their tickets stay where
    they are."""
    permissions.check_manage_people(actor)
    if contact.organization_id == (organization.pk if organization else None):
        return contact
    with transaction.atomic():
        previous = contact.organization_id
        contact.organization = organization
        contact.save(update_fields=["organization"])
        # One line, on the new organization (else the old one); the old one finds it by "from".
        record_event(
            PeopleEvent.Kind.ATTACHED,
            {"from": previous, "to": organization.pk if organization else None},
            contact=contact, actor=actor, at=now,
            organization=organization
            or (Organization.objects.filter(pk=previous).first() if previous else None),
        )  # fmt: skip
    return contact


def clean_domains(domains: Iterable[str]) -> list[str]:
    """Lowercased, de-duplicated domains, each checked the way an address's domain is."""
    cleaned: list[str] = []
    for domain in domains:
        domain = domain.strip().lower().removeprefix("@")
        if not domain or domain in cleaned:
            continue
        try:
            validate_email(f"postmaster@{domain}")
        except ValidationError:
            raise InvalidInput(f"{domain!r} is not an email domain.") from None
        cleaned.append(domain)
    return cleaned


def update_organization(
    organization: Organization,
    *,
    actor: User,
    now: datetime,
    name: str | None = None,
    tier: str | None = None,
    account_manager: User | None = None,
    clear_account_manager: bool = False,
    domains: Iterable[str] | None = None,
    custom_fields: Mapping[str, object] | None = None,
) -> Organization:
    """Change an organization's details (None leaves a field as it is) and record what changed.

    New domains attach contacts writing from them that belong to no organization yet."""
    permissions.check_manage_people(actor)
    changed: list[str] = []
    if name is not None:
        name = name.strip()
        if not name:
            raise InvalidInput("An organization needs a name.")
        if len(name) > MAX_ORGANIZATION_NAME:
            raise InvalidInput(f"The name may be at most {MAX_ORGANIZATION_NAME} characters.")
        if name != organization.name:
            changed.append("name")
    if tier is not None:
        tier = tier.strip()
        if len(tier) > MAX_TIER:
            raise InvalidInput(f"The tier may be at most {MAX_TIER} characters.")
        if tier != organization.tier:
            changed.append("tier")
    if clear_account_manager:
        manager_pk = None
    elif account_manager is not None:
        manager_pk = account_manager.pk
    else:
        manager_pk = organization.account_manager_id
    if manager_pk != organization.account_manager_id:
        changed.append("account_manager")
    wanted = clean_domains(domains) if domains is not None else None
    current = sorted(organization.domains.values_list("domain", flat=True))
    if wanted is not None and sorted(wanted) != current:
        changed.append("domains")
    fields = (
        clean_custom_fields("organization", custom_fields, existing=organization.custom_fields)
        if custom_fields is not None
        else organization.custom_fields
    )
    if fields != organization.custom_fields:
        changed.append("custom_fields")
    if not changed:
        return organization
    try:
        with transaction.atomic():
            if name is not None:
                organization.name = name
            if tier is not None:
                organization.tier = tier
            organization.account_manager_id = manager_pk
            organization.custom_fields = fields
            organization.save(update_fields=["name", "tier", "account_manager", "custom_fields"])
            if wanted is not None:
                organization.domains.exclude(domain__in=wanted).delete()
                for domain in sorted(set(wanted) - set(current)):
                    OrganizationDomain.objects.create(organization=organization, domain=domain)
                    Contact.objects.filter(
                        organization__isnull=True, emails__address__iendswith=f"@{domain}"
                    ).update(organization=organization)
            record_event(
                PeopleEvent.Kind.UPDATED, {"fields": changed}, organization=organization,
                actor=actor, at=now,
            )  # fmt: skip
    except IntegrityError:
        organization.refresh_from_db()
        raise InvalidInput(
            "Another organization already has that name or one of those domains."
        ) from None
    return organization


def ensure_builtin_segments() -> None:
    for spec in BUILTIN_SEGMENTS:
        Segment.objects.update_or_create(
            slug=str(spec["slug"]),
            defaults={
                "name": str(spec["name"]),
                "rule": spec["rule"],
                "builtin": True,
                "description": str(spec["description"]),
            },
        )


# Segments

SEGMENT_TARGETS = ("contact", "organization", "ticket")


def check_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """The rule as stored (the engine's form), after checking every target can read it;
    InvalidInput says what is wrong."""
    if not (rule.get("all") or rule.get("any")):
        raise InvalidInput("Add at least one condition.")
    stored = conditions.validate(SEGMENT_TARGETS[0], rule)
    for target in SEGMENT_TARGETS[1:]:
        conditions.to_q(target, rule)
    return stored


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
    stored = check_rule(rule)
    same_name = Segment.objects.filter(name__iexact=name)
    if segment is not None:
        same_name = same_name.exclude(pk=segment.pk)
    taken = f"Name: a segment called {name!r} already exists."
    if same_name.exists():
        raise InvalidInput(taken)
    segment = segment or Segment(slug=_free_slug(name))
    segment.name = name
    segment.description = description.strip()
    segment.rule = stored
    with unique_or(taken):
        segment.save()
    return segment


def _free_slug(name: str) -> str:
    base = slugify(name)[:56] or "segment"
    slug, n = base, 2
    while Segment.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def delete_segment(segment: Segment, *, actor: User) -> None:
    """Delete a segment an admin made; built-in segments stay."""
    permissions.check_administer(actor)
    if segment.builtin:
        raise InvalidInput(f"{segment.name} is built in and cannot be deleted.")
    segment.delete()
