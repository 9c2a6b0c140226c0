"""Every change to contacts, organizations and agents goes through these functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from patron.core import permissions
from patron.core.errors import InvalidInput
from patron.people.custom_fields import clean_custom_fields
from patron.people.models import (
    AgentProfile,
    Contact,
    ContactEmail,
    Organization,
    OrganizationDomain,
    Relationship,
    Role,
    Segment,
    Team,
)
from patron.people.segments import BUILTIN_SEGMENTS


def normalize_email(address: str) -> str:
    """Trim and check an address; the domain is lowercased, the local part kept as written."""
    address = address.strip()
    try:
        validate_email(address)
    except ValidationError:
        raise InvalidInput(f"{address!r} is not an email address.") from None
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


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
    if relationship_override and relationship_override not in Relationship.values:
        raise InvalidInput(
            f"Relationship must be client or customer, not {relationship_override!r}."
        )
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
    try:
        with transaction.atomic():
            return ContactEmail.objects.create(contact=contact, address=address)
    except IntegrityError:
        raise InvalidInput(f"{address} already belongs to another contact.") from None


def update_contact_fields(
    contact: Contact, values: Mapping[str, object], *, actor: User
) -> Contact:
    permissions.check_manage_people(actor)
    contact.custom_fields = clean_custom_fields("contact", values, existing=contact.custom_fields)
    contact.save(update_fields=["custom_fields"])
    return contact


def merge_contacts(source: Contact, target: Contact, *, actor: User, now: datetime) -> Contact:
    """Fold `source` into `target`: addresses and tickets move; `source` points to `target`."""
    from patron.tickets import services as ticket_services

    permissions.check_manage_people(actor)
    if source.pk == target.pk:
        raise InvalidInput("A contact cannot be merged into itself.")
    if source.merged_into_id is not None:
        raise InvalidInput(f"{source} was already merged into another contact.")
    if target.merged_into_id is not None:
        # Merging into a merged contact would hide tickets, or loop find_contact forever.
        raise InvalidInput(f"{target} was merged into {target.merged_into}; merge into that one.")
    with transaction.atomic():
        ContactEmail.objects.filter(contact=source).update(contact=target, primary=False)
        for ticket in source.tickets.select_for_update().order_by("id"):
            ticket_services.change_requester(ticket, target, actor=actor, now=now)
        for field in ("phone", "language", "time_zone"):
            if not getattr(target, field) and getattr(source, field):
                setattr(target, field, getattr(source, field))
        if target.organization_id is None and source.organization_id is not None:
            target.organization_id = source.organization_id
        target.custom_fields = {**source.custom_fields, **target.custom_fields}
        target.save()
        source.merged_into = target
        source.save(update_fields=["merged_into"])
    return target


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
    if relationship not in Relationship.values:
        raise InvalidInput(f"Relationship must be client or customer, not {relationship!r}.")
    if not name.strip():
        raise InvalidInput("An organization needs a name.")
    fields = clean_custom_fields("organization", custom_fields or {})
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
                OrganizationDomain.objects.create(organization=organization, domain=domain.lower())
                Contact.objects.filter(
                    organization__isnull=True, emails__address__iendswith=f"@{domain}"
                ).update(organization=organization)
    except IntegrityError:
        raise InvalidInput(
            f"An organization called {name.strip()!r} or one of its domains already exists."
        ) from None
    return organization


def set_relationship(organization: Organization, relationship: str, *, actor: User) -> Organization:
    """Make an organization a client or a customer (its contacts follow unless overridden)."""
    permissions.check_change_relationship(actor)
    if relationship not in Relationship.values:
        raise InvalidInput(f"Relationship must be client or customer, not {relationship!r}.")
    organization.relationship = relationship
    organization.save(update_fields=["relationship"])
    return organization


def create_agent(
    *,
    username: str,
    email: str,
    password: str | None,
    role: str = Role.AGENT,
    first_name: str = "",
    last_name: str = "",
    teams: Iterable[Team] = (),
    restricted_to_teams: bool = False,
) -> AgentProfile:
    """Create a Django user and their agent profile; admins may also use Django's admin."""
    if role not in Role.values:
        raise InvalidInput(f"Role must be one of {', '.join(Role.values)}, not {role!r}.")
    user_model = get_user_model()
    with transaction.atomic():
        user = user_model.objects.create_user(
            username=username,
            email=email,
            password=password,
            first_name=first_name,
            last_name=last_name,
            is_staff=role == Role.ADMIN,
            is_superuser=role == Role.ADMIN,
        )
        profile = AgentProfile.objects.create(
            user=user, role=role, restricted_to_teams=restricted_to_teams
        )
        profile.teams.set(list(teams))
    return profile


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
