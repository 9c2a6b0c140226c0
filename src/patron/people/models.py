"""Who Patron serves (contacts, organizations) and who does the serving (agents, teams)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models.functions import Lower

from patron.core.errors import InvalidInput
from patron.core.receipts import Receipt


class Relationship(models.TextChoices):
    CLIENT = "client", "Client"
    CUSTOMER = "customer", "Customer"


def check_relationship(value: object) -> str:
    """`value` if it is a relationship (client, customer), else InvalidInput saying so."""
    if value not in Relationship.values:
        raise InvalidInput(f"Relationship must be client or customer, not {value!r}.")
    return str(value)


class Organization(models.Model):
    """An account: a client with an agreement and an account manager, or a customer company."""

    name = models.CharField(max_length=200)
    relationship = models.CharField(
        max_length=16, choices=Relationship.choices, default=Relationship.CUSTOMER
    )
    tier = models.CharField(max_length=40, blank=True)
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_organizations",
    )
    notes = models.TextField(blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="organization_name_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.name


class OrganizationDomain(models.Model):
    """An email domain whose senders belong to the organization."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, unique=True)

    def __str__(self) -> str:
        return self.domain


class Contact(models.Model):
    """A person who writes to us; a client through their organization, or in their own right."""

    name = models.CharField(max_length=200, blank=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    relationship_override = models.CharField(
        max_length=16,
        choices=Relationship.choices,
        blank=True,
        help_text="Leave empty to inherit the organization's relationship.",
    )
    phone = models.CharField(max_length=40, blank=True)
    language = models.CharField(max_length=16, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_contacts"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name or self.primary_email or f"Contact {self.pk}"

    @property
    def relationship(self) -> str:
        if self.relationship_override:
            return self.relationship_override
        if self.organization_id is not None and self.organization is not None:
            return self.organization.relationship
        return Relationship.CUSTOMER

    @property
    def is_client(self) -> bool:
        return self.relationship == Relationship.CLIENT

    @property
    def primary_email(self) -> str:
        """The primary address, else the oldest; reads prefetched `emails` without a query."""
        emails = sorted(self.emails.all(), key=lambda email: (not email.primary, email.pk))
        return emails[0].address if emails else ""


class ContactEmail(models.Model):
    """One of a contact's addresses; unique across all contacts, ignoring case."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="emails")
    address = models.EmailField(max_length=254)
    primary = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("address"), name="contact_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.address


class CustomFieldDefinition(models.Model):
    """An admin-defined field on contacts, organizations or tickets."""

    class AppliesTo(models.TextChoices):
        CONTACT = "contact", "Contact"
        ORGANIZATION = "organization", "Organization"
        TICKET = "ticket", "Ticket"

    class FieldType(models.TextChoices):
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        CHOICE = "choice", "Choice"
        MULTI_CHOICE = "multi_choice", "Multiple choice"
        CHECKBOX = "checkbox", "Checkbox"

    applies_to = models.CharField(max_length=16, choices=AppliesTo.choices)
    key = models.SlugField(max_length=64)
    label = models.CharField(max_length=120)
    field_type = models.CharField(max_length=16, choices=FieldType.choices)
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)
    public = models.BooleanField(default=False, help_text="Shown on the public web form.")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["applies_to", "position", "key"]
        constraints = [
            models.UniqueConstraint(fields=["applies_to", "key"], name="custom_field_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.applies_to}.{self.key}"


class Segment(models.Model):
    """A saved rule over contacts, organizations or tickets that SLAs and views select by."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=64, unique=True)
    builtin = models.BooleanField(default=False)
    rule = models.JSONField(default=dict, help_text='{"all": [{"field", "op", "value"}, …]}')
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["-builtin", "name"]

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    SUPERVISOR = "supervisor", "Supervisor"
    AGENT = "agent", "Agent"
    LIGHT_AGENT = "light_agent", "Light agent"


class Availability(models.TextChoices):
    ONLINE = "online", "Online"
    AWAY = "away", "Away"
    OFFLINE = "offline", "Offline"


class EmailDigest(models.TextChoices):
    """How often an agent is emailed the notifications they have not read in the bell."""

    OFF = "off", "Off"
    HOURLY = "hourly", "Hourly"
    DAILY = "daily", "Daily"


class AgentProfile(models.Model):
    """What a Django user may do in the desk and what work suits them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    teams = models.ManyToManyField(Team, blank=True, related_name="agents")
    restricted_to_teams = models.BooleanField(
        default=False, help_text="Sees only tickets of their teams or assigned to them."
    )
    skills = models.JSONField(default=list, blank=True)
    languages = models.JSONField(default=list, blank=True)
    capacity = models.PositiveIntegerField(default=20, help_text="Open tickets at most.")
    availability = models.CharField(
        max_length=16, choices=Availability.choices, default=Availability.OFFLINE
    )
    time_zone = models.CharField(max_length=64, blank=True)
    # Daily by default: the bell is where agents work, so the digest is a safety net for what
    # they missed while away, not a second inbox. Once a day, in the morning of their own time
    # zone (as help desks with digests do, e.g. Ochre's at 08:00 local), reaches an agent who
    # was off without the noise of hourly mail; off by default would leave notifications to
    # absent agents unseen. Hourly is a choice for those who live in their mail.
    email_digest = models.CharField(
        max_length=16,
        choices=EmailDigest.choices,
        default=EmailDigest.DAILY,
        help_text="How often unread notifications are emailed.",
    )
    last_digest_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the last digest was due for this agent (sent, or nothing to send).",
    )
    # Notification ids grow as rows are written, while `created_at` is the event's time and
    # a consumer retried later writes an older one; so the id, not the time, marks what the
    # last digest covered, and a late notification is in the next digest, never in none.
    last_digest_notification_id = models.BigIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="The newest notification the last digest covered.",
    )

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class PeopleEvent(models.Model):
    """What happened to a contact or an organization, who did it and when: their audit trail,
    and, as TicketEvent is, an outbox the consumers read (the search index).

    Saving a new one writes its receipts (`PeopleEventDelivery`) in the same transaction and
    enqueues their deliveries after commit (`patron.core.events.open_receipts`), so whatever
    records a change to people puts it on the outbox; the re-drive finishes what a crash left.
    """

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Details changed"
        EMAIL_ADDED = "email_added", "Address added"
        ATTACHED = "attached", "Organization changed"
        RELATIONSHIP_CHANGED = "relationship_changed", "Relationship changed"
        MERGED = "merged", "Merged into another contact"
        MERGED_IN = "merged_in", "Another contact merged in"

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["organization", "id"]),
            models.Index(fields=["contact", "id"]),
        ]

    def __str__(self) -> str:
        subject = self.contact_id or self.organization_id
        return f"{self.kind} on {subject} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            super().save(*args, **kwargs)
            return
        from patron.core import events  # the spine imports this module

        with transaction.atomic():
            super().save(*args, **kwargs)
            events.open_receipts(self)


class PeopleEventDelivery(Receipt):
    """One consumer's receipt for one PeopleEvent; delivered and re-drived with the TicketEvent
    receipts (`core.EventDelivery`) by `patron.core.events`."""

    event = models.ForeignKey(PeopleEvent, on_delete=models.CASCADE, related_name="deliveries")

    class Meta(Receipt.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["event", "consumer"], name="people_delivery_once_per_consumer"
            )
        ]

    def __str__(self) -> str:
        return f"{self.consumer} for people event {self.event_id}: {self.state}"
