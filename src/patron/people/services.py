"""Every change to contacts, organizations and agents goes through these functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from patron.core import clock, permissions
from patron.core.errors import InvalidInput
from patron.people.custom_fields import clean_custom_fields
from patron.people.models import (
    AgentProfile,
    Availability,
    Contact,
    ContactEmail,
    Organization,
    OrganizationDomain,
    PeopleEvent,
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
            _reindex_after_commit(contact=contact)
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
        ticket_ids = []
        for ticket in source.tickets.select_for_update().order_by("id"):
            ticket_services.change_requester(ticket, target, actor=actor, now=now)
            ticket_ids.append(ticket.pk)
        for field in ("phone", "language", "time_zone"):
            if not getattr(target, field) and getattr(source, field):
                setattr(target, field, getattr(source, field))
        if target.organization_id is None and source.organization_id is not None:
            target.organization_id = source.organization_id
        target.custom_fields = {**source.custom_fields, **target.custom_fields}
        target.save()
        source.merged_into = target
        source.save(update_fields=["merged_into"])
        moved = {"source": source.pk, "target": target.pk, "tickets": len(ticket_ids)}
        _record(PeopleEvent.Kind.MERGED, moved, contact=source, actor=actor, at=now)
        _record(PeopleEvent.Kind.MERGED_IN, moved, contact=target, actor=actor, at=now)
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
            _reindex_after_commit(organization=organization)
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
    if relationship not in Relationship.values:
        raise InvalidInput(f"Relationship must be client or customer, not {relationship!r}.")
    with transaction.atomic():
        previous = (
            Organization.objects.select_for_update()
            .values_list("relationship", flat=True)
            .get(pk=organization.pk)
        )
        organization.relationship = relationship
        organization.save(update_fields=["relationship"])
        if previous != relationship:
            _record(
                PeopleEvent.Kind.RELATIONSHIP_CHANGED,
                {"from": previous, "to": relationship},
                organization=organization,
                actor=actor,
                at=now or clock.now(),
            )
    return organization


def _reindex_after_commit(
    *, contact: Contact | None = None, organization: Organization | None = None
) -> None:
    """Keep the search index current once the change that touched these people commits."""
    from patron.search import services as search

    if contact is not None:
        transaction.on_commit(partial(search.index_contact, contact.pk), robust=True)
    if organization is not None:
        transaction.on_commit(partial(search.index_organization, organization.pk), robust=True)


def _record(
    kind: str,
    data: Mapping[str, object],
    *,
    actor: User,
    at: datetime,
    contact: Contact | None = None,
    organization: Organization | None = None,
) -> PeopleEvent:
    """Write one line of a contact's or organization's audit trail, inside the change's
    transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("_record() must run inside the transaction of the change it records")
    _reindex_after_commit(contact=contact, organization=organization)
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
    if override and override not in Relationship.values:
        raise InvalidInput(f"Relationship must be client or customer, not {override!r}.")
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
                _record(
                    PeopleEvent.Kind.EMAIL_ADDED, {"address": address}, contact=contact,
                    actor=actor, at=now,
                )  # fmt: skip
            if changed:
                _record(
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
        _record(
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
            _record(
                PeopleEvent.Kind.UPDATED, {"fields": changed}, organization=organization,
                actor=actor, at=now,
            )  # fmt: skip
    except IntegrityError:
        organization.refresh_from_db()
        raise InvalidInput(
            "Another organization already has that name or one of those domains."
        ) from None
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


def _other_active_admins(profile: AgentProfile) -> bool:
    return (
        AgentProfile.objects.filter(role=Role.ADMIN, user__is_active=True)
        .exclude(pk=profile.pk)
        .exists()
    )


def update_agent(
    profile: AgentProfile,
    *,
    actor: User,
    role: str | None = None,
    teams: Iterable[Team] | None = None,
    skills: Iterable[str] | None = None,
    languages: Iterable[str] | None = None,
    capacity: int | None = None,
    availability: str | None = None,
    restricted_to_teams: bool | None = None,
    active: bool | None = None,
) -> AgentProfile:
    """Change what an agent may do and what work suits them (None leaves a field as it is).

    Agents are deactivated, never deleted: their name stays on the tickets they worked. The
    last active admin cannot be demoted or deactivated, or nobody could change settings."""
    permissions.check_administer(actor)
    if role is not None and role not in Role.values:
        raise InvalidInput(f"Role must be one of {', '.join(Role.values)}, not {role!r}.")
    if availability is not None and availability not in Availability.values:
        raise InvalidInput(
            f"Availability must be one of {', '.join(Availability.values)}, not {availability!r}."
        )
    if capacity is not None and capacity < 0:
        raise InvalidInput("Capacity cannot be negative.")
    losing_admin = profile.role == Role.ADMIN and (
        (role is not None and role != Role.ADMIN) or active is False
    )
    with transaction.atomic():
        if losing_admin:  # two admins stepping down at once must not both succeed
            list(AgentProfile.objects.select_for_update().filter(role=Role.ADMIN))
        if losing_admin and profile.user.is_active and not _other_active_admins(profile):
            who = "yourself" if profile.user_id == actor.pk else str(profile.user)
            raise InvalidInput(
                f"You cannot demote or deactivate {who}: Patron needs at least one active admin. "
                "Make another agent an admin first."
            )
        if role is not None:
            profile.role = role
        if skills is not None:
            profile.skills = sorted({s.strip() for s in skills if s.strip()})
        if languages is not None:
            profile.languages = sorted({s.strip() for s in languages if s.strip()})
        if capacity is not None:
            profile.capacity = capacity
        if availability is not None:
            profile.availability = availability
        if restricted_to_teams is not None:
            profile.restricted_to_teams = restricted_to_teams
        # Only what this function edits: a digest run may be writing last_digest_* meanwhile.
        profile.save(
            update_fields=[
                "role", "skills", "languages", "capacity", "availability", "restricted_to_teams",
            ]
        )  # fmt: skip
        if teams is not None:
            profile.teams.set(list(teams))
        user = profile.user
        user.is_staff = user.is_superuser = profile.role == Role.ADMIN
        if active is not None:
            user.is_active = active
        user.save(update_fields=["is_staff", "is_superuser", "is_active"])
    return profile
