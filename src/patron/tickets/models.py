"""Tickets, their messages and attachments, and TicketEvent: the spine every consumer reads."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from patron.people.models import Contact, Organization, Team


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    ON_HOLD = "on_hold", "On hold"
    SOLVED = "solved", "Solved"
    CLOSED = "closed", "Closed"


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class TicketType(models.TextChoices):
    QUESTION = "question", "Question"
    INCIDENT = "incident", "Incident"
    PROBLEM = "problem", "Problem"
    TASK = "task", "Task"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEB = "web", "Web form"
    CHAT = "chat", "Live chat"
    API = "api", "API"
    PHONE = "phone", "Phone"
    AGENT = "agent", "Agent"


class Tag(models.Model):
    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    number = models.PositiveIntegerField(unique=True, help_text="The number people quote.")
    subject = models.CharField(max_length=300)
    requester = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="tickets")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.WEB)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    type = models.CharField(max_length=16, choices=TicketType.choices, blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets")
    custom_fields = models.JSONField(default=dict, blank=True)
    followers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="followed_tickets"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_tickets"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    solved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    message_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-updated_at"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["team", "status"]),
            # The Solved view and its count: "solved in the last 7 days" without reading every
            # solved ticket ever (at 100,000 tickets, 14,000 of them).
            models.Index(fields=["status", "solved_at"], name="ticket_status_solved"),
            # Previous/next ticket on the ticket page, in the list's order.
            models.Index(fields=["updated_at", "id"], name="ticket_updated_id"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"


class Counter(models.Model):
    """A named sequence (ticket numbers); incremented under the row lock of an UPDATE."""

    name = models.CharField(max_length=40, primary_key=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class AuthorKind(models.TextChoices):
    CONTACT = "contact", "Contact"
    AGENT = "agent", "Agent"
    BOT = "bot", "Bot"
    SYSTEM = "system", "System"
    RULE = "rule", "Rule"


class Message(models.Model):
    """A public reply or an internal note; HTML is sanitized before it is stored."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    public = models.BooleanField(default=True)
    author_kind = models.CharField(max_length=16, choices=AuthorKind.choices)
    author_contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    author_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="authored_messages",
    )
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    created_at = models.DateTimeField()
    automatic = models.BooleanField(
        default=False,
        help_text="An automatic reply (out of office) kept on the ticket, not a customer message.",
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"])]

    def __str__(self) -> str:
        kind = "reply" if self.public else "note"
        return f"{kind} on ticket {self.ticket_id}"

    @property
    def author_name(self) -> str:
        if self.author_agent is not None:
            return self.author_agent.get_full_name() or self.author_agent.get_username()
        if self.author_contact is not None:
            return str(self.author_contact)
        return self.get_author_kind_display()


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{instance.sha256[:2]}/{instance.sha256}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.filename


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    MESSAGE_ADDED = "message_added", "Message added"
    FIELD_CHANGED = "field_changed", "Field changed"
    ASSIGNED = "assigned", "Assigned"
    FOLLOWED = "followed", "Followed"
    UNFOLLOWED = "unfollowed", "Unfollowed"
    MERGED = "merged", "Merged"
    MERGED_IN = "merged_in", "Another ticket merged in"
    REQUESTER_CHANGED = "requester_changed", "Requester changed"
    SPLIT_OFF = "split_off", "A message split off into a new ticket"
    MAIL_BOUNCED = "mail_bounced", "Mail bounced"
    AUTOMATIC_REPLY_RECEIVED = "automatic_reply_received", "Automatic reply received"
    SLA_POLICY_CHANGED = "sla_policy_changed", "SLA policy changed"
    SLA_PAUSED = "sla_paused", "SLA clock paused"
    SLA_RESUMED = "sla_resumed", "SLA clock resumed"
    SLA_WARNING = "sla_warning", "SLA warning"
    SLA_BREACHED = "sla_breached", "SLA breached"


class TicketEvent(models.Model):
    """What happened to a ticket: the audit trail, the timeline and the outbox, in one row."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    actor_kind = models.CharField(max_length=16, choices=AuthorKind.choices)
    actor_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A system, bot or rule actor's name ("Mail delivery", "SLA", "Rule: Escalate VIPs").
    actor_name = models.CharField(max_length=120, blank=True, default="")
    at = models.DateTimeField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["ticket", "id"])]

    def __str__(self) -> str:
        return f"{self.kind} on ticket {self.ticket_id} at {self.at:%Y-%m-%d %H:%M}"

    def actor_label(self) -> str:
        """Who did it, in words: the agent's name, the contact, or the named system actor."""
        if self.actor_agent is not None:
            return self.actor_agent.get_full_name() or self.actor_agent.get_username()
        if self.actor_contact is not None:
            return str(self.actor_contact)
        return self.actor_name or "Patron"


class SavedView(models.Model):
    """An agent's own inbox view: a rule over tickets (`patron.conditions`), a sort and the
    columns to show; personal, or shared with one team whose members all see it."""

    name = models.CharField(max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    shared_with_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="saved_views"
    )
    rule = models.JSONField(
        default=dict, blank=True, help_text='{"all": [{"field", "op", "value"}]}'
    )
    sort = models.CharField(max_length=32, default="-updated")
    columns = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name
