"""The email channel's data: mailboxes, every inbound message's raw bytes (stored before anything
parses them), every outbound message's delivery state, and each ticket's mail thread."""

from __future__ import annotations

import hashlib

from django.db import IntegrityError, models, transaction

from patron.people.models import Contact, Team
from patron.tickets.models import Message, Ticket


class Security(models.TextChoices):
    TLS = "tls", "TLS"
    STARTTLS = "starttls", "STARTTLS"
    NONE = "none", "None (trusted network only)"


class Mailbox(models.Model):
    """An address customers write to. Mail arrives by IMAP polling, by the SMTP/LMTP listener or
    by the pipe; it leaves by SMTP (this mailbox's server, or the site's default mailer)."""

    class Inbound(models.TextChoices):
        IMAP = "imap", "IMAP polling"
        LISTENER = "listener", "SMTP/LMTP listener (patron mail listen)"
        PIPE = "pipe", "Pipe from the mail server (patron mail pipe)"

    address = models.EmailField(unique=True, help_text="Stored lower-case.")
    display_name = models.CharField(max_length=120, blank=True)
    default_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="mailboxes"
    )
    signature = models.TextField(blank=True)
    is_default = models.BooleanField(
        default=False, help_text="Replies on tickets that did not come by mail go out from here."
    )
    active = models.BooleanField(default=True)
    allow_unknown_senders = models.BooleanField(
        default=True, help_text="Unknown senders may open tickets (else their mail is held)."
    )
    send_acknowledgement = models.BooleanField(
        default=False, help_text="Answer a new ticket's first mail with its reference number."
    )
    # Threading and abuse limits.
    thread_fallback_days = models.PositiveIntegerField(
        default=7, help_text="Same sender, same subject within this many days; 0 turns it off."
    )
    sender_limit_per_hour = models.PositiveIntegerField(
        default=30, help_text="Mails from one sender per hour before they are held."
    )
    # How mail arrives.
    inbound = models.CharField(max_length=16, choices=Inbound.choices, default=Inbound.IMAP)
    imap_host = models.CharField(max_length=255, blank=True)
    imap_port = models.PositiveIntegerField(default=993)
    imap_security = models.CharField(max_length=16, choices=Security.choices, default="tls")
    imap_username = models.CharField(max_length=255, blank=True)
    imap_password = models.CharField(max_length=255, blank=True)
    imap_folder = models.CharField(max_length=255, default="INBOX")
    imap_move_to = models.CharField(
        max_length=255, blank=True, help_text="Move fetched mail here; empty: mark it read."
    )
    imap_uidvalidity = models.BigIntegerField(null=True, blank=True)
    imap_last_uid = models.BigIntegerField(default=0)
    imap_checked_at = models.DateTimeField(null=True, blank=True)
    imap_error = models.TextField(blank=True)
    # How mail leaves: empty host means the site's default mailer (PATRON_EMAIL_*).
    smtp_host = models.CharField(max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(default=587)
    smtp_security = models.CharField(max_length=16, choices=Security.choices, default="starttls")
    smtp_username = models.CharField(max_length=255, blank=True)
    smtp_password = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["address"]

    def __str__(self) -> str:
        return f"{self.display_name} <{self.address}>" if self.display_name else self.address


class InboundMail(models.Model):
    """One message as it arrived: its raw bytes first, then what processing made of it."""

    class Source(models.TextChoices):
        IMAP = "imap", "IMAP"
        SMTP = "smtp", "SMTP"
        LMTP = "lmtp", "LMTP"
        PIPE = "pipe", "Pipe"
        UPLOAD = "upload", "Upload"

    class State(models.TextChoices):
        RECEIVED = "received", "Received, not yet processed"
        PROCESSED = "processed", "Processed"
        DUPLICATE = "duplicate", "Duplicate of a processed mail"
        IGNORED = "ignored", "Ignored (our own mail, or a bounce handled)"
        FAILED = "failed", "Failed"
        DISCARDED = "discarded", "Discarded by an admin"

    mailbox = models.ForeignKey(Mailbox, on_delete=models.PROTECT, related_name="inbound_mails")
    raw = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    source = models.CharField(max_length=16, choices=Source.choices)
    envelope_from = models.CharField(max_length=320, blank=True)
    envelope_to = models.JSONField(default=list, blank=True)
    received_at = models.DateTimeField(help_text="Arrival time: threading is judged by it.")
    # Filled by processing.
    state = models.CharField(max_length=16, choices=State.choices, default=State.RECEIVED)
    reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    bypass_limits = models.BooleanField(
        default=False, help_text="An admin retried it: the per-sender limit does not hold it."
    )
    message_id_header = models.CharField(
        max_length=998, blank=True, help_text="Message-ID without <>."
    )
    sender = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=998, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_mails"
    )
    message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_mail"
    )
    headers = models.JSONField(default=list, blank=True)
    quoted_text = models.TextField(blank=True)
    quoted_html = models.TextField(blank=True)
    remote_images = models.BooleanField(default=False, help_text="The HTML links remote images.")

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "sha256"], name="inbound_unique_bytes")
        ]
        indexes = [
            models.Index(fields=["mailbox", "message_id_header"]),
            models.Index(fields=["state", "received_at"]),
            models.Index(fields=["sender", "received_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} mail {self.pk} ({self.state})"


class ClaimedMessageId(models.Model):
    """A Message-ID that one mail of a mailbox was turned into a message with, under a unique
    key: two workers processing two different copies of a mail (other bytes, same Message-ID) at
    the same moment cannot both claim it, on SQLite or PostgreSQL; the second is a duplicate."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64, help_text="SHA-256 of the Message-ID (without <>).")
    mail = models.OneToOneField(InboundMail, on_delete=models.CASCADE, related_name="claimed_id")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "key"], name="claimed_message_id_once")
        ]

    def __str__(self) -> str:
        return f"Message-ID of mail {self.mail_id}"

    @classmethod
    def claim(cls, mail: InboundMail) -> tuple[int, int | None] | None:
        """Claim `mail`'s Message-ID in its mailbox (a unique row, in a savepoint); if another
        mail holds it, that mail's id and ticket. A check by query sees only what is committed;
        this does not: on PostgreSQL a second worker's claim waits for the first's transaction
        and fails once that commits (on SQLite, writers take turns). `services.process` drops
        the claim of a mail that did not become a message."""
        key = hashlib.sha256(mail.message_id_header.encode()).hexdigest()
        try:
            with transaction.atomic():
                cls.objects.create(mailbox=mail.mailbox, key=key, mail=mail)
        except IntegrityError:
            return (
                cls.objects.filter(mailbox=mail.mailbox, key=key)
                .exclude(mail=mail)
                .values_list("mail_id", "mail__ticket_id")
                .first()
            )
        return None


class OutboundMail(models.Model):
    """A mail on its way, queued until the SMTP server took it: a public reply or an
    acknowledgement on a ticket, or a mail about no one ticket (an agent's notification digest)
    that carries its own body."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        BOUNCED = "bounced", "Bounced"

    class Kind(models.TextChoices):
        REPLY = "reply", "Reply"
        ACKNOWLEDGEMENT = "acknowledgement", "Acknowledgement"
        DIGEST = "digest", "Notification digest"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.REPLY)
    message = models.OneToOneField(
        Message,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="outbound_mail",
        help_text="The reply's message; empty for an acknowledgement or a digest.",
    )
    ticket = models.ForeignKey(
        Ticket,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="outbound_mails",
        help_text="Empty for a mail about no one ticket (a digest).",
    )
    mailbox = models.ForeignKey(
        Mailbox,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="outbound_mails",
        help_text="Empty for a digest on a desk without mailboxes: the site's mailer sends it.",
    )
    message_id_header = models.CharField(max_length=998, unique=True, help_text="Ours, without <>.")
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=998)
    body = models.TextField(blank=True, help_text="The text of a mail about no one ticket.")
    automatic = models.BooleanField(
        default=False, help_text="Written by Patron (an acknowledgement, a digest), not a person."
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind__in=["reply", "acknowledgement"])
                | models.Q(ticket__isnull=False, mailbox__isnull=False),
                name="outbound_ticket_mail_has_ticket_and_mailbox",
            )
        ]

    def __str__(self) -> str:
        about = f"ticket {self.ticket_id}" if self.ticket_id else ", ".join(self.to)
        return f"{self.get_kind_display()} mail {self.pk} for {about} ({self.state})"


class MailThread(models.Model):
    """A ticket's mail context: the mailbox it lives in, who is copied, what it follows up."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="mail_thread")
    mailbox = models.ForeignKey(Mailbox, on_delete=models.PROTECT, related_name="threads")
    cc = models.ManyToManyField(Contact, blank=True, related_name="copied_on")
    follow_up_of = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )

    def __str__(self) -> str:
        return f"mail thread of ticket {self.ticket_id}"
